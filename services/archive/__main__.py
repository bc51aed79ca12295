from services.archive.app import running
from shared.runner import run_service

run_service("archive", running)
