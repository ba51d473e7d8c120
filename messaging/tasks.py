from core.task_policy import crm_task
from messaging.dispatch import SEND_SECONDS, send_kick
from messaging.sending import messages_send_for


@crm_task()
def send_queued_email() -> int:
    """After messages are queued (``messaging.dispatch.send_kick``) and every 30 s
    (CELERY_BEAT_SCHEDULE): send what is due, in batches, for up to a minute. Several may
    run at once, each with its own batches; a full batch queues one more, so a backlog
    spreads over the workers. Returns the messages sent."""
    send_kick.started()  # messages queued from now on queue a send after this one
    return messages_send_for(seconds=SEND_SECONDS, on_full_batch=send_kick.queue)
