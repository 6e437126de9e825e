"""The data layer: generate or load interactions, check their quality, keep them in data/processed."""

from recsys.data.dataset import Dataset, Manifest, content_version, load_processed, prepare, write_processed
from recsys.data.generate import GenerateConfig, generate
from recsys.data.ingest import IngestResult, check_processed, ingest, load_checked
from recsys.data.load import load_file, load_products
from recsys.data.quality import QualityReport, QualityStore, ensure_quality, run_quality_checks

__all__ = [
    "Dataset",
    "GenerateConfig",
    "IngestResult",
    "Manifest",
    "QualityReport",
    "QualityStore",
    "check_processed",
    "content_version",
    "ensure_quality",
    "generate",
    "ingest",
    "load_checked",
    "load_file",
    "load_processed",
    "load_products",
    "prepare",
    "run_quality_checks",
    "write_processed",
]
