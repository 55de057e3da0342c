"""HTTP edge of the results service: JSON <-> models (`schemas`), errors -> problem+json (`problems`),
the fast path of every delivery's requests (`hot_routes`), and the routes (`routes_tasks`, `routes_health`).
The body-size limit and the Host allow-list are `openclara.http_guards`, shared with the DICOM adapter."""
