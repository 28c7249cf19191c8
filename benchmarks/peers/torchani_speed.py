"""TorchANI 2.9 timing: untrained models of ANI-2x's shape (AEVs and networks), built with
TorchANI's own Assembler exactly as `torchani.models.ANI2x` does minus the downloaded weights."""

from timing import main
from torchani_models import ani2x_assembler


def ani2x_shaped(symbols, members: int):
    def make():
        assembler = ani2x_assembler(symbols)
        assembler.set_gsaes_as_self_energies("wb97x-631gd")
        model = assembler.assemble(members)
        model.requires_grad_(False)
        return model.ase()

    return make


if __name__ == "__main__":
    main({
        "torchani ANI-2x (7 elements), 1 network": ani2x_shaped(("H", "C", "N", "O", "S", "F", "Cl"), 1),
        "torchani ANI-2x (7 elements), 8-network ensemble": ani2x_shaped(("H", "C", "N", "O", "S", "F", "Cl"), 8),
        "torchani H,C,O, 1 network": ani2x_shaped(("H", "C", "O"), 1),
        "torchani H,C,O, 4-network ensemble": ani2x_shaped(("H", "C", "O"), 4),
    })
