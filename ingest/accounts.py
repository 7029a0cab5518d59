"""Reading the account mapping of the statement journals (a TOML file; `schemas/accounts.toml`
is the default, suited to a US seller)."""

import tomllib
from pathlib import Path

from schemas.journal import CLEARING, DIFFERENCES, Account, AccountMap, MappingError, check_mapping, normalise_type

DEFAULT_ACCOUNTS = Path(__file__).resolve().parents[1] / "schemas" / "accounts.toml"
_KEYS = {"name", "code", "tax_rate", "columns"}


def read_accounts(path: Path | None = None) -> AccountMap:
    """The mapping in `path` (default: the US default), checked; a bad file raises `MappingError`
    naming the file and what is wrong in it."""
    source = Path(path) if path is not None else DEFAULT_ACCOUNTS
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MappingError(f"{source}: cannot read the account mapping ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MappingError(f"{source}: not a TOML file: {exc}") from None
    try:
        accounts = [
            _account(CLEARING, data.get(CLEARING)),
            _account(DIFFERENCES, data.get(DIFFERENCES)),
            *[_account(key, table) for key, table in _table(data, "accounts").items()],
        ]
        not_posted = _strings(_table(data, "not_posted").get("columns", []), "not_posted.columns")
        types = {str(k): v for k, v in _table(data, "adjustment_types").items()}
        if not all(isinstance(v, str) for v in types.values()):
            raise MappingError("[adjustment_types] values must be account keys (text)")
        check_mapping(accounts, not_posted, types)
    except MappingError as exc:
        raise MappingError(f"{source}: {exc}") from None
    return AccountMap(
        accounts=tuple(accounts),
        adjustment_types={normalise_type(k): v for k, v in types.items()},
        source="default" if path is None else str(source),
    )


def _table(data: dict, key: str) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise MappingError(f"[{key}] must be a table")
    return value


def _strings(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MappingError(f"{where} must be a list of column labels")
    return value


def _account(key: str, table: object) -> Account:
    if table is None:
        raise MappingError(f"the [{key}] account is missing")
    if not isinstance(table, dict):
        raise MappingError(f"account {key!r} must be a table")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise MappingError(
            f"account {key!r} has unknown key(s) {', '.join(unknown)} (known: name, code, tax_rate, columns)"
        )
    for part in ("name", "code"):
        if not isinstance(table.get(part), str) or not table[part].strip():
            raise MappingError(f"account {key!r} needs a {part}")
    tax_rate = table.get("tax_rate", "Tax Exempt")
    if not isinstance(tax_rate, str):
        raise MappingError(f"account {key!r}: tax_rate must be text")
    columns = _strings(table.get("columns", []), f"accounts.{key}.columns")
    return Account(key=key, name=table["name"], code=table["code"], tax_rate=tax_rate, columns=tuple(columns))
