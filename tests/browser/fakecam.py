"""A fake camera for Chromium: a bib's QR as a short YUV4MPEG2 (.y4m) video, without ffmpeg.

Chromium plays the file in a loop as its camera when launched with
``--use-fake-device-for-media-stream --use-file-for-fake-video-capture=<file>``. The QR
is drawn by zxing-cpp (level M, like the printed bibs), centred on a white 640x480 frame
with Pillow, and written as 4:2:0 frames: the grey image is the luma plane and both
chroma planes are neutral (128), so the picture is exactly the grey QR.
"""

from __future__ import annotations

from pathlib import Path

import zxingcpp
from PIL import Image

WIDTH, HEIGHT = 640, 480
FRAMES = 10
FPS = 10
SCALE = 8


def qr_frame(text: str, *, scale: int = SCALE) -> Image.Image:
    """The QR for ``text`` (UTF-8, error level M) centred on a white 640x480 grey image.

    Modules are ``scale`` pixels, or fewer if a long payload would not fit the frame.
    """
    code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    while True:
        qr = Image.fromarray(code.to_image(scale=scale))  # grey, with its quiet zone
        if qr.height <= HEIGHT or scale == 1:
            break
        scale -= 1
    if qr.mode != "L":
        qr = qr.convert("L")
    if qr.width > WIDTH or qr.height > HEIGHT:
        raise ValueError(f"QR of {qr.width}px does not fit a {WIDTH}x{HEIGHT} frame")
    frame = Image.new("L", (WIDTH, HEIGHT), 255)
    frame.paste(qr, ((WIDTH - qr.width) // 2, (HEIGHT - qr.height) // 2))
    return frame


def write_y4m(frame: Image.Image, path: Path, *, frames: int = FRAMES) -> Path:
    """Write ``frame`` (grey) ``frames`` times as a YUV4MPEG2 4:2:0 video at ``path``."""
    grey = frame.convert("L")
    width, height = grey.size
    luma = grey.tobytes()
    chroma = bytes([128]) * ((width // 2) * (height // 2))
    header = f"YUV4MPEG2 W{width} H{height} F{FPS}:1 Ip A1:1 C420jpeg\n".encode("ascii")
    with path.open("wb") as out:
        out.write(header)
        for _ in range(frames):
            out.write(b"FRAME\n")
            out.write(luma)
            out.write(chroma)  # U
            out.write(chroma)  # V
    return path


def qr_video(text: str, path: Path) -> Path:
    """A .y4m camera file showing the QR of ``text``; returns its absolute path."""
    return write_y4m(qr_frame(text), path.resolve())
