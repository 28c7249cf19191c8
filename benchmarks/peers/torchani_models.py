"""TorchANI's Assembler set up exactly as `torchani.models.ANI2x` does, minus the downloaded weights."""

from torchani.arch import Assembler


def ani2x_assembler(symbols) -> Assembler:
    assembler = Assembler(periodic_table_index=True)
    assembler.set_symbols(symbols)
    assembler.set_global_cutoff_fn("cosine")
    assembler.set_aev_computer(radial="ani2x", angular="ani2x", strategy="pyaev")
    assembler.set_atomic_networks(ctor="ani2x")
    assembler.set_neighborlist("all_pairs")
    return assembler
