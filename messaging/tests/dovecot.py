"""A real IMAP server for tests and the benchmark: Debian's Dovecot, started as an instance
of its own (not the system's) in a temporary directory, on a free port of 127.0.0.1.

Its own ``dovecot.conf`` keeps everything under that directory: the sockets (``base_dir``),
the state, the log, the mail (a maildir per user) and the users (a passwd-file with plain
passwords). ``tls=True`` also gives it a self-signed certificate (``openssl``): STARTTLS on
the plain port and an IMAPS port, ``cafile`` being the certificate to trust.

Run as root (CI, this machine), Dovecot refuses to run its login processes as root and to
hand mail to uid 0, so those run as the package's own users (``dovenull``, ``dovecot``);
run as anyone else, everything runs as that user. Messages go in by IMAP ``APPEND``, the
way a mail server's delivery is seen by a client. Imports no Django.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

USER = "support@example.com"
PASSWORD = "s3cret pass"  # a space and no URL-safe spelling: the URL must escape it


def dovecot_binary() -> str | None:
    """The ``dovecot`` executable, or None when the package is not installed."""
    return shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if os.access(p, os.X_OK)), None
    )


def dovecot_version(binary: str) -> tuple[int, int]:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    major, minor = re.match(r"(\d+)\.(\d+)", out.strip()).groups()  # type: ignore[union-attr]
    return int(major), int(minor)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _accounts() -> dict[str, str]:
    """Who the instance's processes and mail run as (see the module docstring)."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        group = grp.getgrgid(me.pw_gid).gr_name
        return {"internal": me.pw_name, "group": group, "login": me.pw_name, "mail": me.pw_name}
    return {"internal": "dovecot", "group": "dovecot", "login": "dovenull", "mail": "dovecot"}


class DovecotServer:
    """``with DovecotServer() as imap:`` a running Dovecot; ``stop()``/``kill()`` and
    ``start()`` again keep its mail, port and users (the fault tests restart it)."""

    def __init__(self, *, users: dict[str, str] | None = None, tls: bool = False):
        binary = dovecot_binary()
        if binary is None:
            raise RuntimeError("Dovecot is not installed (apt install dovecot-imapd)")
        self.binary = binary
        self.version = dovecot_version(binary)
        self.users = users or {USER: PASSWORD}
        self.tls = tls
        self.host = "127.0.0.1"
        self.port = free_port()
        self.tls_port = free_port() if tls else 0
        # Short: unix socket paths under base_dir must fit in 108 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="crm-dovecot-"))
        self.root.chmod(0o711)  # the mail processes (another user, under root) pass through
        self.mail = self.root / "mail"
        self.cafile = str(self.root / "cert.pem") if tls else ""
        self.log = self.root / "dovecot.log"
        self.process: subprocess.Popen | None = None
        self._configure()

    # -- set-up --------------------------------------------------------------------------

    def _configure(self) -> None:
        accounts = _accounts()
        mail_user = pwd.getpwnam(accounts["mail"])
        self.mail.mkdir()
        os.chown(self.mail, mail_user.pw_uid, mail_user.pw_gid)
        for name in ("run", "state"):
            (self.root / name).mkdir()
        users = self.root / "users"
        # user:password:uid:gid:gecos:home:shell: uid and gid come from mail_uid / mail_gid.
        users.write_text("".join(f"{name}:{{PLAIN}}{password}::::::\n" for name, password in self.users.items()))
        users.chmod(0o644)
        if self.tls:
            self._certificate()
        values = {
            "root": self.root,
            "port": self.port,
            "tls_port": self.tls_port,
            "first_uid": min(mail_user.pw_uid, 500) or 1,
            **accounts,
        }
        if self.version >= (2, 4):
            # 2.4 (Debian 13) renamed most settings; a configuration for it is written when a
            # machine has it to run it on, not from the documentation alone.
            raise RuntimeError(f"The test IMAP server is configured for Dovecot 2.3; this is {self.version}.")
        ssl = SSL_23 if self.tls else "ssl = no\n"
        (self.root / "dovecot.conf").write_text(CONFIG_23.format(**values, ssl=ssl.format(**values)))

    def _certificate(self) -> None:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout",
                str(self.root / "key.pem"),
                "-out",
                self.cafile,
            ],  # fmt: skip
            check=True,
            capture_output=True,
        )

    # -- running -------------------------------------------------------------------------

    def start(self) -> DovecotServer:
        self.process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.root / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: stop() and kill() reach every child
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Dovecot did not start: {self._why()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as s:
                    s.settimeout(2)
                    if s.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"Dovecot did not answer on {self.host}:{self.port}: {self._why()}")

    def _why(self) -> str:
        stderr = self.process.stderr.read().decode() if self.process and self.process.stderr else ""
        log = self.log.read_text() if self.log.exists() else ""
        return (stderr + log)[-2000:]

    def _signal(self, sig: int) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=15)
        # The children (imap, auth, log) leave on their own once the master is gone.
        for _ in range(100):
            if not self._children_alive():
                break
            time.sleep(0.05)

    def _children_alive(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)  # type: ignore[union-attr]
        except ProcessLookupError:
            return False
        return True

    def stop(self) -> None:
        """Shut Dovecot down (SIGTERM to its process group): open connections are cut."""
        self._signal(signal.SIGTERM)

    def kill(self, *, wait: bool = True) -> None:
        """Kill every process of the instance at once (SIGKILL): a crashed server. With
        ``wait``, return once they are all gone (the port is free for a restart)."""
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=15)
        for _ in range(100 if wait else 0):
            if self.process is None or not self._children_alive():
                break
            time.sleep(0.05)

    def close(self) -> None:
        self.kill(wait=False)  # thrown away: no graceful shutdown, no waiting for the children
        if self.process is not None and self.process.stderr:
            self.process.stderr.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> DovecotServer:
        try:
            return self.start()
        except BaseException:
            self.close()  # its directory too: nothing is left behind
            raise

    def __exit__(self, *exc) -> None:
        self.close()

    # -- for tests -----------------------------------------------------------------------

    def url(self, *, user: str = USER, password: str | None = None, folder: str = "INBOX", scheme="imap") -> str:
        """``scheme://user:password@127.0.0.1:port/folder``, user and password escaped."""
        from urllib.parse import quote

        port = self.tls_port if scheme == "imaps" else self.port
        secret = self.users.get(user, "") if password is None else password
        return f"{scheme}://{quote(user, safe='')}:{quote(secret, safe='')}@{self.host}:{port}/{quote(folder)}"

    def client(self, user: str = USER) -> imaplib.IMAP4:
        imap = imaplib.IMAP4(self.host, self.port, timeout=10)
        credentials = f"\0{user}\0{self.users[user]}".encode()  # PLAIN: UTF-8 passwords too
        imap.authenticate("PLAIN", lambda _challenge: credentials)
        return imap

    def append(self, messages: list[bytes], *, folder: str = "INBOX", user: str = USER) -> None:
        """Deliver ``messages`` into ``folder`` by IMAP APPEND, in order (ascending UIDs)."""
        imap = self.client(user)
        try:
            quoted = f'"{folder}"'
            if folder != "INBOX":
                imap.create(quoted)
            for raw in messages:
                typ, data = imap.append(quoted, None, None, raw)
                if typ != "OK":
                    raise RuntimeError(f"APPEND failed: {data!r}")
        finally:
            imap.logout()

    def folder(self, name: str = "INBOX", *, user: str = USER) -> list[bytes]:
        """The messages in folder ``name``, whole, in UID order ([] if it does not exist)."""
        imap = self.client(user)
        try:
            typ, _ = imap.select(f'"{name}"', readonly=True)
            if typ != "OK":
                return []
            typ, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[])")
            return [part[1] for part in data if isinstance(part, tuple)]
        finally:
            imap.logout()


# Dovecot 2.3 (Debian 12). Everything under the instance's directory; no system paths.
CONFIG_23 = """\
base_dir = {root}/run
state_dir = {root}/state
instance_name = crm-test-{port}
log_path = {root}/dovecot.log
listen = 127.0.0.1
protocols = imap
{ssl}disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal}
default_internal_group = {group}
default_login_user = {login}
first_valid_uid = {first_uid}
mail_uid = {mail}
mail_gid = {group}
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = username_format=%u {root}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users
  default_fields = home={root}/mail/%u
}}
# No chroot: only root may chroot, and the instance may run as anyone.
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
"""
SSL_23 = """\
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
"""
