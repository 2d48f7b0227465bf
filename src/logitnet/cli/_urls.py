"""URLs on the command line: --storage-option, and each URL given as
--data, --model or a data or model --out made a
:class:`logitnet.data.storage.Url` before a command runs."""

from __future__ import annotations

import argparse


def storage_option(text: str) -> tuple[str, object]:
    """KEY=VALUE of --storage-option (:func:`logitnet.data.storage.parse_option`)."""
    from logitnet.data.storage import parse_option

    try:
        return parse_option(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_storage_options(parser: argparse.ArgumentParser) -> None:
    """--storage-option KEY=VALUE, repeatable: options of the filesystem of
    the URLs given as --data, --model or --out (added once)."""
    if "--storage-option" in parser._option_string_actions:
        return
    parser.add_argument(
        "--storage-option",
        dest="storage_options",
        type=storage_option,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option of the object storage a URL (s3://, gs://, az://, "
        "https://) names, as pandas' storage_options: a value is JSON where it "
        "is JSON, else text; a dotted key is nested "
        "(client_kwargs.region_name=eu-west-1). Repeatable. Credentials come "
        "from the provider's own environment (AWS_ACCESS_KEY_ID, AWS_PROFILE, "
        "AWS_ENDPOINT_URL, ...)",
    )


#: The options and arguments that name a data or model file, and may be URLs.
URL_ARGUMENTS = ("data", "model", "out")


def locate_urls(args: argparse.Namespace) -> None:
    """Each URL given as --data, --model or an output of a command that
    writes data or models, as a :class:`logitnet.data.storage.Url` with the
    --storage-option values; local paths are left as they are."""
    options = dict(getattr(args, "storage_options", None) or ())
    for attr in URL_ARGUMENTS:
        if attr == "out" and not getattr(args, "out_is_data", False):
            continue  # a picture or a page: local only (check_outputs says so)
        value = getattr(args, attr, None)
        if isinstance(value, str) and "://" in value:
            from logitnet.data.storage import is_url, locate

            if is_url(value) or value.startswith("file://"):
                try:
                    setattr(args, attr, locate(value, options))
                except ValueError as e:  # the --storage-option values
                    from logitnet.cli._common import UsageError

                    raise UsageError(f"--storage-option: {e}") from None
