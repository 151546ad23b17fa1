"""Network factory: a MONAI segmentation network chosen by name in the training config."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from torch import nn

from spinedetect.labels import NUM_CLASSES

__all__ = ["NetworkName", "NetworkConfig", "build_network"]


class NetworkName(str, enum.Enum):
    """MONAI architectures spinedetect can build."""

    UNET = "UNet"
    DYNUNET = "DynUNet"
    SEGRESNET = "SegResNet"


@dataclass(frozen=True)
class NetworkConfig:
    """Architecture: ``channels`` per resolution level, ``strides`` between levels (len(channels) - 1)."""

    name: NetworkName = NetworkName.UNET
    channels: tuple[int, ...] = (16, 32, 64, 128)
    strides: tuple[int, ...] = (2, 2, 2)
    num_res_units: int = 1
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if len(self.strides) != len(self.channels) - 1:
            raise ValueError(f"strides needs len(channels) - 1 = {len(self.channels) - 1} entries, "
                             f"got {len(self.strides)}")


def build_network(cfg: NetworkConfig, in_channels: int = 1, out_channels: int = NUM_CLASSES) -> nn.Module:
    """A MONAI 3-D network giving ``out_channels`` logits per voxel (one per schema class)."""
    if cfg.name is NetworkName.UNET:
        from monai.networks.nets import UNet

        return UNet(spatial_dims=3, in_channels=in_channels, out_channels=out_channels, channels=cfg.channels,
                    strides=cfg.strides, num_res_units=cfg.num_res_units, norm="instance", dropout=cfg.dropout)
    if cfg.name is NetworkName.DYNUNET:
        from monai.networks.nets import DynUNet

        n = len(cfg.channels)
        return DynUNet(spatial_dims=3, in_channels=in_channels, out_channels=out_channels,
                       kernel_size=[3] * n, strides=[1, *cfg.strides], upsample_kernel_size=list(cfg.strides),
                       filters=list(cfg.channels), norm_name="instance", dropout=cfg.dropout or None,
                       res_block=cfg.num_res_units > 0)
    from monai.networks.nets import SegResNet

    return SegResNet(spatial_dims=3, in_channels=in_channels, out_channels=out_channels,
                     init_filters=cfg.channels[0], dropout_prob=cfg.dropout or None, norm="instance")
