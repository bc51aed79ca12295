from services.intake.app import running
from shared.runner import run_service

run_service("intake", running)
