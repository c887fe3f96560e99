"""People who sign in to the web UI: one tenant each, a role, a password kept as an argon2 hash."""

import secrets
import uuid
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from emailplatform.campaigns.recipients import BadRow, normalize_address
from emailplatform.db import get_for_tenant
from emailplatform.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from emailplatform.models import Role, User, utcnow
from emailplatform.pagination import paginate
from emailplatform.runtime import Runtime
from emailplatform.tenants import service as tenant_service

FIRST_TENANT = "default"
FIRST_USER_EMAIL = "owner@example.com"
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1000
# What each role may do: a viewer reads, an editor also sends and changes content, an admin also manages access.
ABILITIES: dict[str, set[str]] = {
    Role.OWNER: {"view", "change", "administer"},
    Role.ADMIN: {"view", "change", "administer"},
    Role.EDITOR: {"view", "change"},
    Role.VIEWER: {"view"},
}
ABILITY_WORDS = {"change": "send or change anything", "administer": "manage API keys and users"}


@dataclass(frozen=True)
class ApiKeyActor:
    """An API key acting for its tenant: it manages users as an admin does, so it makes and removes no owner
    (that takes an owner signed in to the UI) and, being no user, never removes itself."""

    tenant_id: uuid.UUID
    role: str = Role.ADMIN
    id: None = None


Actor = User | ApiKeyActor

_hasher = PasswordHasher()
# Verified when the email is unknown, so an unknown address takes as long to refuse as a wrong password.
_UNKNOWN_USER_HASH = _hasher.hash(secrets.token_urlsafe(16))


def create_user(session: Session, tenant_id: uuid.UUID, email: str, password: str, role: str) -> User:
    address = _address(email)
    _check_role(role)
    _check_password(password)
    if session.scalar(select(User.id).where(User.tenant_id == tenant_id, User.email == address)):
        raise Conflict(f"{address} has an account in this tenant already", field="email")
    user = User(tenant_id=tenant_id, email=address, password_hash=_hasher.hash(password), role=role)
    session.add(user)
    session.flush()
    return user


def invite(session: Session, by: Actor, email: str, role: str) -> tuple[User, str]:
    """A new user of `by`'s tenant and its random password, returned to be shown this once."""
    require(by, "administer")
    _check_role(role)
    if role == Role.OWNER and by.role != Role.OWNER:
        raise Forbidden("only an owner can make another owner", field="role")
    password = _one_time_password()
    return create_user(session, by.tenant_id, email, password, role), password


def change_role(session: Session, by: Actor, user_id: uuid.UUID, role: str) -> User:
    require(by, "administer")
    user = get_for_tenant(session, User, user_id, by.tenant_id, field="user_id", what="user")
    _check_role(role)
    if role == user.role:
        return user
    if Role.OWNER in (role, user.role) and by.role != Role.OWNER:
        raise Forbidden("only an owner can grant or take away the owner role", field="role")
    if user.role == Role.OWNER:
        _keep_another_owner(session, user, "the workspace needs an owner: make someone else owner first", "role")
    user.role = role
    session.flush()
    return user


def remove_user(session: Session, by: Actor, user_id: uuid.UUID) -> None:
    require(by, "administer")
    user = get_for_tenant(session, User, user_id, by.tenant_id, field="user_id", what="user")
    if user.id == by.id:
        raise Conflict("you cannot remove yourself", field="user_id")
    if user.role == Role.OWNER:
        if by.role != Role.OWNER:
            raise Forbidden("only an owner can remove an owner", field="user_id")
        _keep_another_owner(session, user, "the workspace needs an owner: you cannot remove the last one", "user_id")
    session.delete(user)
    session.flush()


def authenticate(session: Session, tenant_name: str, email: str, password: str) -> User:
    """The user these credentials belong to; one Unauthorized for every wrong part, so none can be guessed apart."""
    refused = Unauthorized("the workspace, email or password is not right", field="password")
    tenant_id = _tenant_id(session, tenant_name)
    user = None
    if tenant_id is not None:
        user = session.scalar(select(User).where(User.tenant_id == tenant_id, User.email == email.strip().lower()))
    try:
        _hasher.verify(user.password_hash if user else _UNKNOWN_USER_HASH, password[:MAX_PASSWORD_CHARS])
    except (VerificationError, InvalidHashError):
        raise refused from None
    if user is None:
        raise refused
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_sign_in_at = utcnow()
    session.flush()
    return user


def get(session: Session, user_id: uuid.UUID) -> User | None:
    return session.get(User, user_id)


def get_user(session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID) -> User:
    return get_for_tenant(session, User, user_id, tenant_id, field="user_id", what="user")


def page_of_users(session: Session, tenant_id: uuid.UUID, *, cursor: str | None, limit: int):
    """A page of the tenant's users, the longest-standing first, and the cursor of the next page."""
    stmt = select(User).where(User.tenant_id == tenant_id)
    return paginate(session, stmt, (User.created_at, User.id), cursor=cursor, limit=limit)


def list_users(session: Session, tenant_id: uuid.UUID) -> list[User]:
    return list(session.scalars(select(User).where(User.tenant_id == tenant_id).order_by(User.created_at)))


def can(user: Actor, ability: str) -> bool:
    return ability in ABILITIES.get(user.role, set())


def require(user: Actor, ability: str) -> None:
    if not can(user, ability):
        raise Forbidden(f"your role ({user.role}) cannot {ABILITY_WORDS.get(ability, ability)}", field="role")


def ensure_first_user(runtime: Runtime) -> tuple[str, str] | None:
    """On a tenant 'default' with no users: an owner with a random password, returned (shown this once)."""
    with runtime.db.session() as session:
        tenant_id = _tenant_id(session, FIRST_TENANT)
        if tenant_id is None:
            tenant_id = tenant_service.create_tenant(session, FIRST_TENANT).id
        if session.scalar(select(User.id).where(User.tenant_id == tenant_id).limit(1)):
            return None
        password = _one_time_password()
        user = create_user(session, tenant_id, FIRST_USER_EMAIL, password, Role.OWNER)
        return user.email, password


def _keep_another_owner(session: Session, owner: User, message: str, field: str) -> None:
    """Conflict unless the tenant has an owner besides `owner`; the owners' rows stay locked until the commit,
    so two owners taking the role from each other at once cannot leave none."""
    owners = session.scalars(
        select(User.id).where(User.tenant_id == owner.tenant_id, User.role == Role.OWNER).with_for_update()
    ).all()
    if not set(owners) - {owner.id}:
        raise Conflict(message, field=field)


def _one_time_password() -> str:
    return secrets.token_urlsafe(12)


def _tenant_id(session: Session, name: str) -> uuid.UUID | None:
    try:
        return tenant_service.get_tenant_by_name(session, name.strip()).id
    except NotFound:
        return None


def _address(email: str) -> str:
    try:
        return normalize_address(email).lower()
    except BadRow as exc:
        raise Invalid(str(exc), field="email") from None


def _check_role(role: str) -> None:
    if role not in ABILITIES:
        raise Invalid(f"the role must be one of: {', '.join(ABILITIES)}", field="role")


def _check_password(password: str) -> None:
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise Invalid(f"a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters", field="password")


def end_sessions(session: Session, user: User) -> None:
    """Sign the user out everywhere: every session cookie given out before is refused from now on."""
    session.execute(update(User).where(User.id == user.id).values(session_generation=User.session_generation + 1))
