"""``kyso serve``: the server itself, in the foreground.

The server code is imported inside the command, so every other command works where
only the client is installed. This is the one place the client imports the server.
"""

from __future__ import annotations

from pathlib import Path

import click

from clients.cli.common import Exit, complain, fail


@click.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False), envvar="KYSO_CONFIG",
              help="TOML configuration file (env KYSO_CONFIG).")
@click.option("--listen", help="gRPC address host:port (overrides server.listen).")
@click.option("--demo", is_flag=True,
              help="Create the demo agency 000.00.00.H13 with a key and a certificate if missing.")
@click.option("--workers", type=int,
              help="Server processes sharing the ports (overrides server.workers).")
@click.option("--demo-token-file", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("var/demo-admin.token"), show_default=True,
              help="With --demo: where the demo administrator's token is written.")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.option("--log-format", type=click.Choice(["text", "json"]),
              help="Server log lines: text, or one JSON object per line with request ids "
              "(overrides server.log_format).")
def serve(config_file: str | None, listen: str | None, workers: int | None, demo: bool,
          demo_token_file: Path, log_level: str, log_format: str | None) -> None:
    """Run the kyso server (signer and registry) in the foreground.

    Settings come from the TOML file and KYSO_* environment variables, e.g.
    KYSO_HSM_PIN_FILE, KYSO_HSM_TOKEN_LABEL, KYSO_STORE_URL, KYSO_SERVER_LISTEN.
    SIGTERM or Ctrl-C drains in-flight calls, then exits.
    """
    from signer.errors import ConfigError, KysoError

    try:
        from signer.runtime.server import main as run
    except ModuleNotFoundError as exc:
        complain("kyso: cannot start", f"the server is not installed here (no module "
                  f"{exc.name!s}): install it with pip install 'kyso[server]'")
        fail(Exit.ERROR)
    try:
        run(Path(config_file) if config_file else None, listen=listen, workers=workers,
            log_level=log_level, log_format=log_format, demo=demo,
            demo_token_file=demo_token_file)
    except ConfigError as exc:
        complain("kyso: cannot start", exc.message)
        fail(Exit.USAGE)
    except KysoError as exc:
        complain("kyso: cannot start", exc.message)
        fail(Exit.ERROR)
    except OSError as exc:
        complain("kyso: cannot start", str(exc))
        fail(Exit.ERROR)
