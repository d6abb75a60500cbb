"""Dataset readers and writers; every reader raises refsr.errors.InputError on bad input."""
from refsr.io.flo import read_flo, write_flo
from refsr.io.images import read_image, read_mask, write_image
from refsr.io.lightfield import (
    HCI_DISPARITY_SIGN,
    LightField,
    motorcycle_sample,
    read_hci,
    read_hdf5,
    read_lightfield,
    read_middlebury,
    read_uv_folder,
    scene_name,
    stereo_pair,
    write_hdf5,
)
from refsr.io.pfm import read_pfm, write_pfm
from refsr.io.sintel import (
    ClipInfo,
    SintelClip,
    clip_scene_name,
    clips_with_pass,
    consecutive_pairs,
    list_clips,
    read_clip,
)

__all__ = [
    "ClipInfo", "HCI_DISPARITY_SIGN", "LightField", "SintelClip", "clip_scene_name", "clips_with_pass",
    "consecutive_pairs", "list_clips", "motorcycle_sample", "read_clip", "read_flo", "read_hci", "read_hdf5",
    "read_image", "read_lightfield", "read_mask", "read_middlebury", "read_pfm", "read_uv_folder", "scene_name",
    "stereo_pair", "write_flo", "write_hdf5", "write_image", "write_pfm",
]
