from services.console.app import running
from shared.runner import run_service

run_service("console", running)
