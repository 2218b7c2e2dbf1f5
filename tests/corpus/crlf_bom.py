# -*- coding: utf-8 -*-
"""A block saved by a Windows editor: CRLF line endings and a byte order mark."""
import torch.nn as nn


class WinBlock(nn.Module):
    def __init__(self, c_in, c_out):
        super(WinBlock, self).__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)  # 3x3
        self.bn = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        # conv-bn-relu
        return self.relu(self.bn(self.conv(x)))
