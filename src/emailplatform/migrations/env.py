from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.types import TypeDecorator

from emailplatform.models import Base

config = context.config
target_metadata = Base.metadata


def render_item(kind: str, obj, autogen_context):
    """A column type of our own (an encrypted text) is written as the type it stores: a migration needs no app code."""
    if kind == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    engine = create_engine(url or "")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_item=render_item,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
