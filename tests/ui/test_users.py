"""Users: the first owner made on first start, more made from the command line, passwords kept as argon2 hashes."""

import subprocess
import sys

import pytest

from emailplatform.assembly import build_runtime
from emailplatform.errors import Invalid
from emailplatform.migrations import upgrade
from emailplatform.models import User
from emailplatform.runtime import Runtime
from emailplatform.users import service as user_service
from tests.conftest import make_settings
from tests.test_cli import cli_env


def fresh_runtime(tmp_path) -> Runtime:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    upgrade(url)
    return build_runtime(make_settings(url, tmp_path / "data"))


def test_first_start_makes_one_owner_of_the_default_tenant(tmp_path):
    runtime = fresh_runtime(tmp_path)
    email, password = user_service.ensure_first_user(runtime)
    assert user_service.ensure_first_user(runtime) is None
    with runtime.db.session() as session:
        user = user_service.authenticate(session, "default", email, password)
        assert user.role == "owner"
        assert user.password_hash.startswith("$argon2id$") and password not in user.password_hash
    runtime.close()


def test_users_create_from_the_command_line(tmp_path):
    runtime = fresh_runtime(tmp_path)
    user_service.ensure_first_user(runtime)
    env = cli_env(tmp_path, runtime.settings.database_url)
    args = [
        sys.executable,
        "-m",
        "emailplatform.users.cli",
        "create",
        "--tenant",
        "default",
        "--email",
        "Editor@Example.com",
        "--role",
        "editor",
    ]
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    password = result.stdout.strip().splitlines()[-1]
    with runtime.db.session() as session:
        assert user_service.authenticate(session, "default", "editor@example.com", password).role == "editor"

    again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 1
    assert "has an account in this tenant already" in again.stderr
    runtime.close()


def test_a_weak_password_or_unknown_role_is_refused(runtime, tenant):
    with runtime.db.session() as session:
        for email, password, role, field in [
            ("a@example.com", "short", "editor", "password"),
            ("a@example.com", "long enough password", "superuser", "role"),
            ("not an address", "long enough password", "editor", "email"),
        ]:
            with pytest.raises(Invalid) as refused:
                user_service.create_user(session, tenant.tenant_id, email, password, role)
            assert refused.value.field == field
        assert session.query(User).filter_by(tenant_id=tenant.tenant_id).count() == 0
