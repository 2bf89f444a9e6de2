"""Write the first N Fashion-MNIST test images and labels as gzip IDX files,
for tests that must run without the dataset-fashion-mnist package.

    /usr/bin/python3 models/make_fashion_subset.py 500 testdata/fashion-mnist
"""
import gzip
import os
import sys

SRC = "/usr/share/datasets/fashion-mnist"


def subset(name, n, out, header_len, item_size):
    with gzip.open(os.path.join(SRC, name)) as f:
        data = f.read()
    header = bytearray(data[:header_len])
    header[4:8] = n.to_bytes(4, "big")  # the count is the first dim
    body = data[header_len:header_len + n * item_size]
    # mtime=0 keeps the output byte-identical between runs
    with open(os.path.join(out, name.replace("t10k", "t10k-first%d" % n)), "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as g:
            g.write(bytes(header) + body)


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    os.makedirs(out, exist_ok=True)
    subset("t10k-images-idx3-ubyte.gz", n, out, 16, 28 * 28)
    subset("t10k-labels-idx1-ubyte.gz", n, out, 8, 1)


if __name__ == "__main__":
    main()
