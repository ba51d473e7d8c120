"""The email channel: templates, sending, the message log, suppression (docs/email.md).

Named ``messaging`` because Python's standard library owns ``email``. It sits below
``support`` and ``campaigns``, which send through it, and imports only ``customers`` and
``core``.
"""
