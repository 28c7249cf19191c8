"""MACE (mace-torch 0.3.16) timing: an untrained MACE-small, the shape of MACE-MP-0 "small"
(128x0e hidden irreps, max_L 0, correlation 3, 2 interactions, r_max 5 Å, 8 Bessel functions),
through MACE's own ASE calculator in float32."""

import numpy as np
import torch
from e3nn import o3
from mace import modules
from mace.calculators import MACECalculator
from timing import main


def mace_small():
    torch.manual_seed(0)
    interaction = modules.interaction_classes["RealAgnosticResidualInteractionBlock"]
    model = modules.ScaleShiftMACE(
        r_max=5.0, num_bessel=8, num_polynomial_cutoff=5, max_ell=3, interaction_cls=interaction,
        interaction_cls_first=interaction, num_interactions=2, num_elements=3, hidden_irreps=o3.Irreps("128x0e"),
        MLP_irreps=o3.Irreps("16x0e"), atomic_energies=np.zeros(3), avg_num_neighbors=10.0,
        atomic_numbers=[1, 6, 8], correlation=3, gate=torch.nn.functional.silu,
        atomic_inter_scale=1.0, atomic_inter_shift=0.0,
    )
    return MACECalculator(models=model.float(), device="cpu", default_dtype="float32")


if __name__ == "__main__":
    main({"MACE-small (128x0e)": mace_small})
