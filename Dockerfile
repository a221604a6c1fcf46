FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain domain
COPY projections projections
COPY wire wire
COPY infra infra
COPY api api
COPY workers workers
COPY client client
COPY agent agent
RUN pip install --no-cache-dir .
ENV JETDECK_API_HOST=0.0.0.0
CMD ["uvicorn", "--factory", "api.app:create_app", "--host", "0.0.0.0", "--port", "8000"]
