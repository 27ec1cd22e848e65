"""The eventsourcing PostgreSQL factory, given every libpq parameter of `DATABASE_URL`.

eventsourcing 9.5 connects with five parameters only (host, port, user, password, dbname).
`sslmode=verify-full`, `sslrootcert`, `application_name`, `target_session_attrs` and the
rest of libpq's parameters travel in `POSTGRES_CONNINFO_EXTRA` (a conninfo string) and are
added to the pool's connection parameters before the pool opens.
"""

from __future__ import annotations

from eventsourcing.postgres import PostgresFactory
from eventsourcing.utils import Environment, EnvType
from psycopg.conninfo import conninfo_to_dict

CONNINFO_EXTRA = "POSTGRES_CONNINFO_EXTRA"


class ConninfoPostgresFactory(PostgresFactory):
    """`PostgresFactory` whose connections also carry the URL's other libpq parameters."""

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        extra = self.env.get(CONNINFO_EXTRA) or ""
        if extra:
            kwargs = self.datastore.pool.kwargs
            assert isinstance(kwargs, dict)
            kwargs.update(conninfo_to_dict(extra))
