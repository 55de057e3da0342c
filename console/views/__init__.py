"""The console's pages, each a page route plus a `/live` fragment the browser polls (no manual reload).

    browser GET /jobs ----------> jobs.py: page (base.html + jobs.html, which includes jobs_live.html)
    every few s: GET /jobs/live -> jobs.py: the fragment alone; static/js/common.js swaps it in
    button/form (fetch + X-CSRF-Token) -> POST /api/...: role checked (`page.require`), then the service

`page` holds what every view shares (render, paging, the role check); `routes` joins the views;
`figures` reads the services' /metrics for the overview.
"""
