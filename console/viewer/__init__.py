"""The viewer (Clara's Render Server, in the browser): a study and its AI output in 2D and 3D.

GET /viewer/{source}/{item}  -> page: static/viewer/viewer.js drives NiiVue (WebGL2, vendored from npm)
    |  asks /viewer/api/... for the manifest, then volumes, preview first
    v
routes -> service.Viewer
    sources.FileSource.files(item)          the item's files (a platform payload folder by default)
    catalog.catalog(paths)                  headers only: series, SEGs tied to their image series
    conversion.Conversions                  once per series, on a worker thread:
        volume.read_series(paths)           DICOM -> voxels + RAS affine (the interface: paths in, Volume out)
        segmentation.read_segmentation      DICOM SEG -> label volume on the image series' grid
        levels                              preview / medium / full resolution
        nifti.write                         -> cache.VolumeCache (0700 folders, 0600 files: PHI)
"""

from console.viewer.errors import NotFound, UnreadableSegmentation, UnreadableSeries, ViewerError
from console.viewer.routes import create_router, router
from console.viewer.service import Viewer
from console.viewer.sources import FileSource, PayloadFolders
from console.viewer.volume import Grid, Volume, read_series

__all__ = [
    "FileSource",
    "Grid",
    "NotFound",
    "PayloadFolders",
    "UnreadableSegmentation",
    "UnreadableSeries",
    "Viewer",
    "ViewerError",
    "Volume",
    "create_router",
    "read_series",
    "router",
]
