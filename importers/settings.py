"""What one `import intaghand|renderih` run is told: `ImportSettings`, whose fields are also the command's options
(handmodel/options.py); the importer's kind is the subcommand."""

from dataclasses import dataclass

from handmodel.models import MANO_DIR_HELP
from handmodel.options import format_shard, option
from handmodel.shard_output import format_option, shard_size_option
from handmodel.sharding import parse_shard
from handmodel.worker_pool import WORKERS_HELP


@dataclass(kw_only=True)
class ImportSettings:
    src: str = option("The release's folder.", None, required=True, argument=True, path="dir", exists=True)
    out: str = option("Dataset folder to write.", None, required=True, path="dir")
    split: str = option("Split folder under SRC (when SRC is not the split folder itself).", "train",
                        fingerprint=True)  # fmt: skip
    workers: int = option(WORKERS_HELP, 1, min=0)
    num: int | None = option("Only the first NUM samples.", None, min=1, aliases=("--limit",))
    shard: tuple[int, int] = option("K/N: only the sample indices with index % N == K (N jobs can fill one folder); "
                                    "with --format webdataset the tar shards j with j % N == K.", (0, 1),
                                    parse=parse_shard, format=format_shard)  # fmt: skip
    dataset_format: str = format_option()
    shard_size: int = shard_size_option()
    mano_dir: str | None = option(MANO_DIR_HELP, None, path="dir")
