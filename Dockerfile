# raygate in a container, for CI systems that run linters as images:
#   docker build -t raygate .
#   docker run --rm -v "$PWD:/work" raygate lint manifests/ -o concise
#   kubectl get ing,svc,cm,deploy -A -o yaml | docker run --rm -i raygate lint -
#   docker run --rm -v ~/.kube:/home/raygate/.kube:ro raygate doctor
# Only the base install (lint, render, doctor, apply, probe without Ray); the Ray Client
# probe and the lab need `raygate[ray]` and a Ray-compatible image.
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.12-slim
RUN useradd --create-home --uid 10001 raygate
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER raygate
WORKDIR /work
ENTRYPOINT ["raygate"]
CMD ["--help"]
