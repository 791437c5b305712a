# tests/data/kmeans-reference.py — produces kmeans-reference.json, the reference k-means inertia
# of base-2000x32.fvecs by an independent implementation (scikit-learn), which
# tests/js/toolbox.test.js compares veclite's kmeans() with. Run once, output committed:
#
#   /usr/bin/python3 tests/data/kmeans-reference.py > tests/data/kmeans-reference.json
#
# (Debian's python3-sklearn 1.2.1+dfsg-1, numpy 1.24.2). Lloyd with greedy k-means++ init,
# best of 10 seeds (n_init=10, random_state=0), max_iter 300, tol 1e-4: the inertia
# (sum of squared Euclidean distances, in float64) of the best run for each k. Nothing here
# comes from veclite.
import json, sys
import numpy as np
import sklearn
from sklearn.cluster import KMeans

raw = np.fromfile(__file__.replace('kmeans-reference.py', 'base-2000x32.fvecs'), dtype='<i4')
dim = int(raw[0])
x = raw.reshape(-1, dim + 1)[:, 1:].copy().view('<f4').astype(np.float64)
out = {
    'file': 'base-2000x32.fvecs', 'rows': int(x.shape[0]), 'dimension': dim,
    'producer': f'scikit-learn {sklearn.__version__} (Debian python3-sklearn), numpy {np.__version__}',
    'settings': {'algorithm': 'lloyd', 'init': 'k-means++', 'n_init': 10, 'random_state': 0, 'max_iter': 300, 'tol': 1e-4},
    'inertia': {},
}
for k in (8, 40, 100):
    km = KMeans(n_clusters=k, init='k-means++', n_init=10, random_state=0, max_iter=300, tol=1e-4, algorithm='lloyd').fit(x)
    out['inertia'][str(k)] = float(km.inertia_)
json.dump(out, sys.stdout, indent=2)
sys.stdout.write('\n')
