from services.notify.app import running
from shared.runner import run_service

run_service("notify", running)
