#!/usr/bin/env python3
"""`like:` in a fleet too small for shapes, on real traces: each of the five
Twitter-volume traces of data/ (the same weeks of 2015) is started as a new
workload from its last H hours (6 and 24) before T = 2015-04-21T00:00Z, in a
2-workload config beside one of the other four (`like:` naming it); its next
day's forecast (`recommend --at T --format parquet`) is scored by MASE
(scale: its own day-over-day MAE over the 28 days before T) against its own
model with 28 days (`forecast`) and a flat line at the last H hours'
median, and by the coverage of its 90% interval. One moment, 20 ordered
pairs: a check, not a benchmark.

    cargo build --release
    .venv-notebooks/bin/python scripts/like_small_fleet.py   # polars reads the Parquet

(`bash scripts/notebooks.sh` makes .venv-notebooks.) Work files go to
target/like-small-fleet/.
"""
import csv, subprocess, statistics as st, os, sys, io
from pathlib import Path
from datetime import datetime, timezone, timedelta
import polars as pl
ROOT=Path(__file__).resolve().parent.parent
BIN=os.environ.get('HOMEOSTAT', str(ROOT/'target'/'release'/'homeostat'))
WORK=ROOT/'target'/'like-small-fleet'
WORK.mkdir(parents=True, exist_ok=True)
names=['aapl','fb','goog','ibm','ko']
T=datetime(2015,4,21,tzinfo=timezone.utc)
def load(n):
    rows=[]
    for r in csv.DictReader(open(ROOT/'data'/f'nab__twitter_volume_{n}.csv')):
        t=datetime.fromisoformat(r['timestamp'].replace('Z','+00:00')); rows.append((t,float(r['value'])))
    return rows
data={n:load(n) for n in names}
def write(path, rows):
    with open(path,'w') as f:
        f.write('timestamp,value\n')
        for t,v in rows: f.write(f"{t.strftime('%Y-%m-%dT%H:%M:%SZ')},{v}\n")
res=[]
for H in [6,24]:
  for a in names:
    hist=[(t,v) for t,v in data[a] if t<=T]
    nxt=[(t,v) for t,v in data[a] if T<t<=T+timedelta(days=1)]
    act=[v for _,v in nxt]
    # MASE scale: A's in-sample day-over-day MAE over its last 28 days before T (5-min steps: 288)
    vals=[v for _,v in hist][-28*288:]
    scale=st.mean(abs(vals[i]-vals[i-288]) for i in range(288,len(vals)))
    young=[(t,v) for t,v in hist if t>T-timedelta(hours=H)]
    flat=st.median(v for _,v in young)
    mase_flat=st.mean(abs(x-flat) for x in act)/scale
    # own 28d model (adapted) via forecast
    write(f'{WORK}/{a}_hist.csv', hist)
    out=subprocess.run([BIN,'forecast','--input',f'{WORK}/{a}_hist.csv','--horizon','1d'],capture_output=True,text=True).stdout
    fc=list(csv.DictReader(io.StringIO(out)))
    own=[float(r['mean']) for r in fc][:len(act)]
    mase_own=st.mean(abs(x-m) for x,m in zip(act,own))/scale
    for b in names:
        if b==a: continue
        write(f'{WORK}/{b}_full.csv', [(t,v) for t,v in data[b] if t<=T])
        write(f'{WORK}/{a}_young.csv', young)
        cfg=f"""defaults: {{history: 28d, horizon: 1d}}
workloads:
  - name: old
    namespace: t
    file: {WORK}/{b}_full.csv
    target_per_replica: 10
  - name: new
    namespace: t
    file: {WORK}/{a}_young.csv
    target_per_replica: 10
    like: t/old
"""
        open(f'{WORK}/h.yaml','w').write(cfg)
        outdir=f'{WORK}/out'
        subprocess.run(['rm','-rf',outdir])
        r=subprocess.run([BIN,'recommend','--config',f'{WORK}/h.yaml','--at',T.strftime('%Y-%m-%dT%H:%M:%SZ'),'--format','parquet','--output',outdir],capture_output=True,text=True)
        p=f'{outdir}/t_new.parquet'
        if not os.path.exists(p):
            print('no parquet', a, b, r.stderr[-300:]); continue
        df=pl.read_parquet(p).filter(pl.col('mean').is_not_null())
        m=df['mean'].to_list()[:len(act)]; lo=df['lower'].to_list()[:len(act)]; hi=df['upper'].to_list()[:len(act)]
        mase=st.mean(abs(x-y) for x,y in zip(act,m))/scale
        cov=sum(1 for x,l,h in zip(act,lo,hi) if l<=x<=h)/len(act)
        res.append((H,a,b,mase,mase_own,mase_flat,cov))
        print(f"H={H:2d} new={a:4s} like={b:4s} mase {mase:.3f} own28d {mase_own:.3f} flat {mase_flat:.3f} ratio {mase/mase_own:.2f} cov {cov:.2f}", flush=True)
for H in [6,24]:
    rr=[r for r in res if r[0]==H]
    print(f"H={H}: median ratio to own {st.median(r[3]/r[4] for r in rr):.2f}; better than flat {sum(1 for r in rr if r[3]<r[5])}/{len(rr)}; median coverage {st.median(r[6] for r in rr):.2f}; mean coverage {st.mean(r[6] for r in rr):.2f}")
