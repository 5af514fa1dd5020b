"""Privacy (GDPR): carry out the export and erasure requests the API's store takes (``requests``), and after an
erasure rebuild what was built from the erased rows through the asset graph (``rebuild``)."""

import dagster as dg

from analytics_assets.defs.privacy.rebuild import privacy_rebuild_job, privacy_rebuild_sensor
from analytics_assets.defs.privacy.requests import privacy_request_job, privacy_requests_sensor

defs = dg.Definitions(
    jobs=[privacy_request_job, privacy_rebuild_job], sensors=[privacy_requests_sensor, privacy_rebuild_sensor]
)
