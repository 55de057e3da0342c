"""The Helm chart (deploy/helm/openclara) and the container image it runs."""
