#!/usr/bin/env bash
# Make the secrets docker-compose.yml reads, in deploy/secrets/ (git-ignored), once:
#
#   web-config.yml           exporter-toolkit web config: bcrypt basic-auth users prometheus,
#                            grafana and viewer; read by the sidecars, the collector and
#                            Prometheus itself
#   prometheus-password      Prometheus's scrape password (user prometheus)
#   grafana-password         Grafana's Prometheus data source password (user grafana)
#   viewer-password          for a person: the collector's dashboard (user viewer)
#   grafana-admin-password   Grafana's admin user
#
# The folder is 0700 (only you on the host); the files are 0644 because Docker bind-mounts
# file secrets with their host permissions and the containers run as unprivileged users.
# Existing files are kept; delete the folder to make new ones. Needs `make setup` (bcrypt).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
DIR=deploy/secrets
mkdir -p "$DIR"
chmod 0700 "$DIR"
if [[ -e "$DIR/web-config.yml" ]]; then
  echo "$DIR/web-config.yml exists: keeping the secrets in $DIR (delete the folder to renew)"
  exit 0
fi
"$PYTHON" - "$DIR" <<'PY'
import os
import secrets
import sys
from pathlib import Path

from deidentify.webconfig import write_web_config

folder = Path(sys.argv[1])
passwords = {user: secrets.token_urlsafe(18) for user in ("prometheus", "grafana", "viewer")}
write_web_config(folder / "web-config.yml", passwords)
for user, password in passwords.items():
    (folder / f"{user}-password").write_text(password + "\n")
(folder / "grafana-admin-password").write_text(secrets.token_urlsafe(18) + "\n")
for path in folder.iterdir():
    os.chmod(path, 0o644)
print(f"wrote {', '.join(sorted(p.name for p in folder.iterdir()))} in {folder}")
PY
