from services.escalation.app import running
from shared.runner import run_service

run_service("escalation", running)
