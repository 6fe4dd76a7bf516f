# Worker image for Dataflow custom containers (--sdk_container_image), built on the official
# Beam Python SDK image of the same Beam version this package pins.
FROM apache/beam_python3.11_sdk:2.77.0

WORKDIR /opt/curation-lake
COPY setup.py README.md LICENSE NOTICE ./
COPY pipelines ./pipelines
COPY transforms ./transforms
COPY catalog ./catalog
COPY model ./model

# Pipeline side only: Dataflow workers never need torch or deepspeed. The smoke checks run from /
# so that they import the installed package (what the workers import) and leave its compiled
# kernels cached there (otherwise each worker compiles them on first use).
RUN pip install --no-cache-dir '.[dataflow]' \
 && pip install --no-cache-dir --no-deps --force-reinstall fasttext==0.9.3 \
 && cd / \
 && python -c "import pycld2; from transforms.langid.identify import LanguageIdentifier; LanguageIdentifier().predict(['Fail tidak dijumpai'])" \
 && python -c "from transforms.filters.scores import score_document; from transforms.filters.config import FilterParams; score_document('compile the filter kernels into the image', 'en', FilterParams())" \
 && python -c "from transforms.dedup.minhash import MinHashConfig, signatures; signatures(['compile the MinHash kernels into the image'], MinHashConfig())" \
 && python -c "import fastwarc.warc; from transforms.read.html_text import main_text; assert main_text('<nav>menu</nav><p>web crawls</p>') == 'web crawls'"

# Keep the SDK harness as the entrypoint inherited from the base image.
