"""Write the small NumPy files package npy's tests read (testdata/npy/):
what numpy 1.24 itself writes, in the forms the package reads and some it
refuses.

    /usr/bin/python3 models/make_npy_tests.py testdata/npy
"""
import os
import sys

import numpy as np


def main(out):
    os.makedirs(out, exist_ok=True)
    a = (np.arange(6, dtype="<f4").reshape(2, 3) - 2) / 4
    np.save(os.path.join(out, "f4.npy"), a)
    np.save(os.path.join(out, "f8_be.npy"), np.array([[1.5, -2], [3, 4e-3]], dtype=">f8"))
    np.save(os.path.join(out, "i4.npy"), np.array([1, -2, 3], dtype="<i4"))
    np.save(os.path.join(out, "i8_scalar.npy"), np.array(7, dtype="<i8"))
    with open(os.path.join(out, "v2.npy"), "wb") as f:
        np.lib.format.write_array(f, a, version=(2, 0))
    np.save(os.path.join(out, "fortran.npy"), np.asfortranarray(a))
    np.save(os.path.join(out, "u1.npy"), np.array([1, 2], dtype="u1"))
    np.savez(os.path.join(out, "named.npz"), x=a, y=np.array([1, -2, 3], dtype="<i4"))
    np.savez_compressed(os.path.join(out, "compressed.npz"), a, np.zeros((3, 4), dtype="<f4"))


if __name__ == "__main__":
    main(sys.argv[1])
