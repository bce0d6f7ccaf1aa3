"""The production stack on loopback: gunicorn (deploy/gunicorn.conf.py) behind nginx.

nginx runs the site file rendered from deploy/nginx/funrun.conf.template, the one the
README tells production to install, with only its placeholders set for a test: loopback
ports 8750-8799, a self-signed certificate, logs in a temporary directory. The main
nginx.conf around it mirrors Debian's own (its default combined access log included), with
the pid and temporary files moved into the same directory, so neither needs root.
Everything is started here and stopped here, by process group id.
"""

from __future__ import annotations

import datetime
import http.client
import importlib.util
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
RENDER_SCRIPT = ROOT / "deploy" / "nginx" / "render.py"

NGINX = Path("/usr/sbin/nginx")
HOST = "127.0.0.1"
PORTS = range(8750, 8800)
_handed_out: set[int] = set()

#: Test-only secrets: production refuses to start without them.
SECRETS = {
    "SECRET_KEY": "deploy-test-secret-key",
    "FUNRUN_DATA_KEY": "dGVzdGluZy1kYXRhLWtleS0zMi1ieXRlcy1sb25nISE=",
    "FUNRUN_SIGNING_KEY": "dGVzdGluZy1zaWduaW5nLWtleS0zMi1ieXRlcy1vayE",
}


def load_render() -> ModuleType:
    """deploy/nginx/render.py as a module (deploy/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("funrun_deploy_render", RENDER_SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    """A loopback port in 8750-8799 that nothing listens on and this session has not used."""
    for port in PORTS:
        if port in _handed_out:
            continue
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port in 8750-8799")


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 (the clients trust exactly this certificate)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _stop_group(process: subprocess.Popen | None, sig: int, wait: float) -> None:
    """Signal ``process``'s own process group, then kill the group if it outlives ``wait``."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
        process.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def _wait_until(
    check: Callable[[], bool], what: str, process: subprocess.Popen, log: Path, seconds: float
) -> None:
    """Poll ``check()`` until true; fail early if ``process`` exits, or after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited ({process.returncode}); see {log}")
        try:
            if check():
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready after {seconds:.0f} s; see {log}")


@dataclass
class Gunicorn:
    """gunicorn with deploy/gunicorn.conf.py; port, workers and log set on the command line."""

    database_url: str
    log_path: Path
    workers: int = 3
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    def environment(self) -> dict[str, str]:
        """Production settings, as the README gives them, on the test database."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FUNRUN_", "REDIS"))}
        env.update(SECRETS)
        env.update(
            FUNRUN_ENV="production",
            FUNRUN_TRUSTED_PROXIES="1",
            FUNRUN_RATE_LIMITS="off",
            FUNRUN_MESSAGES="off",
            DATABASE_URL=self.database_url,
            PYTHONDONTWRITEBYTECODE="1",
        )
        if os.environ.get("TEST_REDIS_URL"):
            env["REDIS_URL"] = os.environ["TEST_REDIS_URL"]
        return env

    def start(self) -> None:
        """Start it in a session of its own; return once it answers the events list."""
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(ROOT / "deploy" / "gunicorn.conf.py"),
            "--bind",
            f"{HOST}:{self.port}",
            "--workers",
            str(self.workers),
            "--graceful-timeout",
            "5",
            "--error-logfile",
            str(self.log_path),
            "--chdir",
            str(ROOT),
            "wsgi:app",
        ]
        self.process = subprocess.Popen(
            command,
            env=self.environment(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

        def answers() -> bool:
            conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
            try:
                conn.request("GET", "/api/v1/events")
                return conn.getresponse().status == 200
            finally:
                conn.close()

        _wait_until(answers, "gunicorn", self.process, self.log_path, 60)

    def stop(self) -> None:
        """Graceful stop (5 s for open requests), then kill."""
        process, self.process = self.process, None
        _stop_group(process, signal.SIGTERM, 20)


@dataclass
class Nginx:
    """Debian's nginx running the rendered site file, everything under ``directory``."""

    directory: Path
    upstream_port: int
    https_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def log_dir(self) -> Path:
        """Where the site's logs (and the main ones) are written."""
        return self.directory / "logs"

    def site(self, certificate: Path, key: Path) -> str:
        """The repository's template with test values in its placeholders, nothing else."""
        return load_render().render(
            {
                "server_name": HOST,
                "http_listen": f"{HOST}:{self.http_port}",
                "https_listen": f"{HOST}:{self.https_port}",
                "certificate": str(certificate),
                "certificate_key": str(key),
                "upstream": f"{HOST}:{self.upstream_port}",
                "static_root": str(ROOT / "static"),
                "log_dir": str(self.log_dir),
            }
        )

    def main_conf(self, site: Path) -> str:
        """Debian's /etc/nginx/nginx.conf, its paths moved into ``directory``."""
        d = self.directory
        # As root, nginx would hand its workers to "nobody", who cannot enter pytest's
        # private temporary directory; Debian's own file says "user www-data".
        user = "user root;\n" if os.geteuid() == 0 else ""
        temp = "".join(
            f"    {kind}_temp_path {d / 'tmp' / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        return (
            f"{user}worker_processes 1;\npid {d / 'nginx.pid'};\n"
            f"error_log {self.log_dir / 'error.log'};\n"
            "events {\n    worker_connections 768;\n}\n"
            "http {\n"
            "    sendfile on;\n    tcp_nopush on;\n    types_hash_max_size 2048;\n"
            "    include /etc/nginx/mime.types;\n    default_type application/octet-stream;\n"
            "    ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;\n    ssl_prefer_server_ciphers on;\n"
            f"    access_log {self.log_dir / 'access.log'};\n"
            "    gzip on;\n"
            f"{temp}"
            f"    include {site};\n"
            "}\n"
        )

    def start(self) -> None:
        """Render, check (nginx -t), start in the foreground; return once it serves."""
        (self.directory / "tmp").mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        certificate, key = self_signed(self.directory)
        site = self.directory / "funrun.conf"
        site.write_text(self.site(certificate, key))
        conf = self.directory / "nginx.conf"
        conf.write_text(self.main_conf(site))
        base = [str(NGINX), "-p", str(self.directory), "-c", str(conf)]
        checked = subprocess.run([*base, "-t", "-q"], capture_output=True, text=True)
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t refused the rendered config:\n{checked.stderr}")
        stderr = (self.log_dir / "stderr.log").open("ab")
        self.process = subprocess.Popen(
            [*base, "-g", "daemon off;"],
            stdout=stderr,
            stderr=stderr,
            start_new_session=True,
        )
        stderr.close()

        def answers() -> bool:
            conn = self.connection(timeout=5)
            try:
                conn.request("GET", "/static/css/app.css")
                return conn.getresponse().status == 200
            finally:
                conn.close()

        _wait_until(answers, "nginx", self.process, self.log_dir / "stderr.log", 20)

    def tls_context(self) -> ssl.SSLContext:
        """Trusts this nginx's own certificate and nothing else."""
        return ssl.create_default_context(cafile=str(self.directory / "cert.pem"))

    def connection(self, timeout: float) -> http.client.HTTPSConnection:
        """A new HTTPS connection to its TLS port."""
        return http.client.HTTPSConnection(
            HOST, self.https_port, timeout=timeout, context=self.tls_context()
        )

    def stop(self) -> None:
        """Graceful stop (SIGQUIT), then kill."""
        process, self.process = self.process, None
        # SIGQUIT: finish open requests, write the logs, exit.
        _stop_group(process, signal.SIGQUIT, 15)
