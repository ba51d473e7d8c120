import logging
from dataclasses import asdict

from core.task_policy import crm_task
from support.escalation import sla_sweep

logger = logging.getLogger(__name__)


@crm_task()
def sweep_sla() -> dict:
    result = asdict(sla_sweep())
    logger.info("SLA sweep: %s", result)
    return result
