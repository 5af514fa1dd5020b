"""Privacy (GDPR): carry out the export and erasure requests the API's store takes (``requests``), and after an
erasure rebuild what was built from the erased rows (``rebuild``)."""

import dagster as dg

from analytics_assets.defs.privacy.requests import privacy_request_job, privacy_requests_sensor

defs = dg.Definitions(jobs=[privacy_request_job], sensors=[privacy_requests_sensor])
