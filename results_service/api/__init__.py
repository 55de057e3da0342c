"""HTTP edge of the results service: JSON <-> models (`schemas`), errors -> problem+json (`problems`),
the body-size guard (`body_limit`), and the routes (`routes_tasks`, `routes_health`)."""
