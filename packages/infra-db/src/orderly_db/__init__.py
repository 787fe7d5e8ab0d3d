"""Orderly's PostgreSQL persistence: the unit of work, repositories and Alembic migrations.

SQLAlchemy supplies the engine, the pool, the table metadata and the migrations; the
repositories use SQLAlchemy Core on one connection per unit of work and map rows to the
core's frozen dataclasses by hand, so no ORM object ever reaches the core.
"""
