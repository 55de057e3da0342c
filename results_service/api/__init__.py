"""HTTP edge of the results service: JSON <-> models (`schemas`), errors -> problem+json (`problems`),
the register/lease/success requests as transport-free functions (`handlers`, returning `replies.Reply`),
served by the FastAPI routes (`routes_tasks`, `routes_health`) and by the fast path (`hot_routes`) alike.
The body-size limit and the Host allow-list are `openclara.http_guards`, shared with the DICOM adapter."""
