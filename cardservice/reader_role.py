"""The merchant API's least-privilege PostgreSQL role (`cardservice migrate --reader-role`).

The read side holds no secret, and its database role matches: it reads the views it
serves and writes its own tables, nothing else. An allow-list, applied after a
`REVOKE ALL` in the configured schema, so re-running converges on exactly these grants
(a table a later migration adds is the role's only once it is listed here):

- SELECT on the views it reads: card status and its history (offline redemptions are
  judged as of their time), status list, issuer public keys, merchants, the catalog
  views, the photo view, holder sessions, the stored offline bundles,
  `schema_migrations` (a start checks the version) and the projection positions and
  set-aside events (lag probes), and of the write side's event stores only the
  `notification_id` column (the newest id, for the lag probe; no event is readable);
- SELECT, INSERT, UPDATE on its own tables: the verification log and its sums, the
  redemption views, counters and roll-ups, and the Redemptions event store (its runner
  keeps those views, so it also moves the Redemptions positions: row-level security lets
  the role write only rows whose source is `Redemptions`).

Never granted: `holder_keys`, `holder_search`, `sequences`, the notice outbox (phone
numbers), the admin and audit views, and the write side's event stores (sealed personal
data, wrapped private keys). The card status views are SELECT only.

The role is created NOLOGIN when missing: give it a login (`ALTER ROLE .. LOGIN PASSWORD`)
or grant it to the login role the merchant API connects as (`GRANT name TO login`).
"""

from __future__ import annotations

from typing import Any

from psycopg import Connection, sql

from cardservice.storage import Database

READS = (
    "view_cards",
    "view_card_history",
    "view_status_list",
    "view_issuer_keys",
    "view_merchants",
    "view_catalog_regions",
    "view_catalog_versions",
    "view_catalog_effective",
    "photo_view",
    "view_holder_sessions",
    "offline_bundles",
    "schema_migrations",
)
OWN = (
    "verification_log",
    "verification_daily",
    "verification_rollup",
    "view_redemptions",
    "redemption_daily",
    "redemption_rollup",
    "redemption_benefit_day",
    "redemption_benefit_month",
    "view_redemption_counters",
)
SHARED_POSITIONS = ("projection_positions", "projection_set_aside")
"""Read whole; written by the role only where `source` is its own application."""


HEAD_STORES = ("CardLedger", "CatalogAdmin")
"""The write side's event stores: the role reads their `notification_id` column only (the
lag probe's newest id), never an event."""


def own_event_store() -> str:
    """The Redemptions store's table, written by the merchant API (eventsourcing's name;
    its insert takes an EXCLUSIVE table lock, which needs UPDATE)."""
    from redemptions.application import Redemptions

    return f"{Redemptions.name.lower()}_events"


def grant_reader_role(db: Database, role: str) -> None:
    """Create `role` if missing and give it exactly the grants above (idempotent)."""
    if db.dialect != "postgres":
        raise ValueError("a reader role needs PostgreSQL (SQLite has no roles)")
    from redemptions.application import Redemptions

    who = sql.Identifier(role)
    events = own_event_store()
    with db.connect() as conn, conn.transaction():
        schema = conn.execute("SELECT current_schema()").fetchone()
        if schema is None or schema[0] is None:
            raise ValueError("no schema to grant in (check CARDSERVICE_POSTGRES_SCHEMA)")
        where = sql.Identifier(str(schema[0]))

        def table(name: str) -> sql.Composed:
            return sql.SQL("{}.{}").format(where, sql.Identifier(name))

        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(who))
        conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(where, who))
        conn.execute(sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {} FROM {}").format(where, who))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(where, who))
        for name in READS:
            conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(table(name), who))
        for name in (*OWN, events):
            conn.execute(
                sql.SQL("GRANT SELECT, INSERT, UPDATE ON {} TO {}").format(table(name), who)
            )
        for name in _serial_sequences(conn, str(schema[0]), [*OWN, events]):
            conn.execute(sql.SQL("GRANT USAGE ON SEQUENCE {} TO {}").format(table(name), who))
        for name in HEAD_STORES:
            conn.execute(
                sql.SQL("GRANT SELECT (notification_id) ON {} TO {}").format(
                    table(f"{name.lower()}_events"), who
                )
            )
        own_source = sql.Literal(Redemptions.name)
        for name in SHARED_POSITIONS:
            conn.execute(
                sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(table(name), who)
            )
            _restrict_to_source(conn, table(name), name, role, own_source)


def _serial_sequences(conn: Connection[Any], schema: str, tables: list[str]) -> list[str]:
    """The sequences behind these tables' serial columns (an INSERT draws from them)."""
    rows = conn.execute(
        "SELECT s.relname FROM pg_class s JOIN pg_depend d ON d.objid = s.oid "
        "JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE s.relkind = 'S' AND n.nspname = %s AND t.relname = ANY(%s)",
        (schema, tables),
    ).fetchall()
    return sorted({str(r[0]) for r in rows})


def _restrict_to_source(
    conn: Connection[Any], target: sql.Composed, name: str, role: str, source: sql.Literal
) -> None:
    """Row-level security: every other role keeps all rows (a permissive policy for
    PUBLIC; the owner bypasses RLS anyway), `role` writes only `source`'s rows."""
    everyone = sql.Identifier(f"{name}_all")
    conn.execute(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(target))
    conn.execute(sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(everyone, target))
    conn.execute(
        sql.SQL("CREATE POLICY {} ON {} USING (true) WITH CHECK (true)").format(everyone, target)
    )
    who = sql.Identifier(role)
    for command in ("INSERT", "UPDATE", "DELETE"):
        policy = sql.Identifier(f"{name}_{role}_{command.lower()}"[:63])
        check = "WITH CHECK" if command == "INSERT" else "USING"
        extra = " WITH CHECK (source = {source})" if command == "UPDATE" else ""
        conn.execute(sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(policy, target))
        conn.execute(
            sql.SQL(
                "CREATE POLICY {policy} ON {target} AS RESTRICTIVE FOR "
                + command
                + " TO {who} "
                + check
                + " (source = {source})"
                + extra
            ).format(policy=policy, target=target, who=who, source=source)
        )
