"""Tab-indented block with comments and type annotations everywhere."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class TabBlock(nn.Module):
	"""conv -> norm -> act, plus a residual; indented with tabs."""

	def __init__(self, channels: int, hidden: int = 16) -> None:
		super().__init__()
		# expand
		self.conv_in: nn.Conv2d = nn.Conv2d(channels, hidden, 1)  # 1x1
		self.norm_in: nn.BatchNorm2d = nn.BatchNorm2d(hidden)
		self.act: nn.Module = nn.SiLU()

		# project back
		self.conv_out: nn.Conv2d = nn.Conv2d(
			hidden,
			channels,
			kernel_size=3,
			padding=1,
		)
		self.norm_out = nn.BatchNorm2d(channels)  # no annotation here

	def forward(self, x: Tensor) -> Tensor:
		y: Tensor = self.act(self.norm_in(self.conv_in(x)))
		y = self.norm_out(self.conv_out(y))  # main branch
		return x + y  # residual
