#!/usr/bin/env python3
"""Consistency check for the reference CSVs in this folder (standard library only).

Checks headers, types, that every row cites a source, that the periods of one key
neither overlap nor leave a gap from 2018-01 on (the last one open-ended), and the
province list (63 unique codes, 34 distinct 2025 codes). Exit status 1 on any error.
"""
import csv, re, sys, unicodedata
from collections import defaultdict
from pathlib import Path

DIR = Path(__file__).resolve().parent
START = 2018 * 12  # 2018-01
FUNDS = {"pension_survivorship", "sickness_maternity", "occupational_accident", "health", "unemployment"}
errors = []

def err(file, line, msg):
    errors.append(f"{file}:{line}: {msg}")

def month(s):
    m = re.fullmatch(r"(\d{4})-(0[1-9]|1[0-2])", s)
    return int(m[1]) * 12 + int(m[2]) - 1 if m else None

def is_pct(s): return re.fullmatch(r"\d+(\.\d{1,2})?", s) is not None
def is_int(s): return re.fullmatch(r"\d+", s) is not None

def load(name, header):
    with open(DIR / name, encoding="utf-8", newline="") as f:
        if f.read(1) == "\ufeff":
            err(name, 1, "file starts with a BOM")
        f.seek(0)
        rows = list(csv.reader(f))
    if rows[0] != header.split(","):
        err(name, 1, f"header {rows[0]} != {header}")
    out = []
    for i, r in enumerate(rows[1:], start=2):
        if len(r) != len(rows[0]):
            err(name, i, f"{len(r)} fields"); continue
        d = dict(zip(rows[0], r))
        if not d.get("source", "").strip():
            err(name, i, "empty source")
        for k, v in d.items():
            if v != unicodedata.normalize("NFC", v):
                err(name, i, f"{k} is not NFC")
        out.append((i, d))
    return out

def timeline(name, rows, key, value_ok, keys=None):
    """Periods per key: valid months, no overlap, no gap from 2018-01, last open."""
    by = defaultdict(list)
    for i, d in rows:
        f, t = month(d["valid_from"]), (month(d["valid_to"]) if d["valid_to"] else None)
        if f is None or (d["valid_to"] and t is None) or (t is not None and t < f):
            err(name, i, "bad valid_from/valid_to"); continue
        if not value_ok(d):
            err(name, i, f"bad value in {d}"); continue
        for k in key(d):
            by[k].append((f, t, i))
    if keys is not None and set(by) != set(keys):
        err(name, 0, f"keys {sorted(by)} != expected {sorted(keys)}")
    for k, ps in by.items():
        ps.sort()
        if ps[0][0] > START:
            err(name, ps[0][2], f"{k}: starts after 2018-01")
        for (f1, t1, i1), (f2, t2, i2) in zip(ps, ps[1:]):
            if t1 is None or t1 >= f2:
                err(name, i2, f"{k}: overlaps line {i1}")
            elif t1 + 1 != f2:
                err(name, i2, f"{k}: gap after line {i1}")
        if ps[-1][1] is not None:
            err(name, ps[-1][2], f"{k}: last period is closed (gap until today)")

# provinces
prov = load("provinces.csv", "code,name,code_2025,name_2025,population_2019,urban_region,rural_region,source")
codes = [d["code"] for _, d in prov]
if len(prov) != 63 or len(set(codes)) != 63:
    err("provinces.csv", 0, f"{len(prov)} rows, {len(set(codes))} unique codes (want 63)")
new = defaultdict(set)
for i, d in prov:
    if not (re.fullmatch(r"\d\d", d["code"]) and re.fullmatch(r"\d\d", d["code_2025"]) and d["name"] and d["name_2025"]):
        err("provinces.csv", i, "bad code or name")
    if not (is_int(d["population_2019"]) and d["urban_region"] in "1234" and d["rural_region"] in "1234"
            and len(d["urban_region"]) == len(d["rural_region"]) == 1 and d["urban_region"] <= d["rural_region"]):
        err("provinces.csv", i, "bad population or regions")
    new[d["code_2025"]].add(d["name_2025"])
if len(new) != 34 or any(len(n) != 1 for n in new.values()):
    err("provinces.csv", 0, f"{len(new)} distinct code_2025 values (want 34, one name each)")
total = sum(int(d["population_2019"]) for _, d in prov if is_int(d["population_2019"]))
if total != 96_208_984:
    err("provinces.csv", 0, f"population_2019 sums to {total}, census total is 96208984")

pairs = {(f, p) for f in FUNDS for p in ("employer", "employee")}
timeline("contribution_rates.csv", load("contribution_rates.csv", "fund,payer,valid_from,valid_to,rate_percent,source"),
         lambda d: [(d["fund"], d["payer"])], lambda d: is_pct(d["rate_percent"]), pairs)
for name in ("base_salary.csv", "poverty_line.csv"):
    timeline(name, load(name, "valid_from,valid_to,amount_vnd,source"), lambda d: ["all"], lambda d: is_int(d["amount_vnd"]))
timeline("regional_min_wage.csv", load("regional_min_wage.csv", "region,valid_from,valid_to,amount_vnd,source"),
         lambda d: [d["region"]], lambda d: is_int(d["amount_vnd"]), {"1", "2", "3", "4"})
timeline("voluntary_support.csv", load("voluntary_support.csv", "support_group,valid_from,valid_to,share_percent,source"),
         lambda d: [d["support_group"]], lambda d: is_pct(d["share_percent"]), {"poor", "near_poor", "other"})
timeline("scheme_rates.csv", load("scheme_rates.csv", "scheme,valid_from,valid_to,rate_percent,source"),
         lambda d: [d["scheme"]], lambda d: is_pct(d["rate_percent"]), {"voluntary_si", "household_hi"})
shares = load("household_hi_shares.csv", "member_order_from,member_order_to,valid_from,valid_to,share_percent,source")
timeline("household_hi_shares.csv", shares, lambda d: [(d["member_order_from"], d["member_order_to"])],
         lambda d: is_int(d["member_order_from"]) and (d["member_order_to"] == "" or is_int(d["member_order_to"]))
         and is_pct(d["share_percent"]))
ranges = sorted({(int(d["member_order_from"]), d["member_order_to"]) for _, d in shares})
if [r[0] for r in ranges] != [1] + [int(t) + 1 for _, t in ranges[:-1] if t] or ranges[-1][1] != "":
    err("household_hi_shares.csv", 0, f"member ranges {ranges} must tile 1.. with the last one open")
timeline("thresholds.csv", load("thresholds.csv", "rule,valid_from,valid_to,value,source"),
         lambda d: [d["rule"]], lambda d: is_int(d["value"]), {"inspection_debt_months", "voluntary_income_max_base_salaries", "covid_suspension_max_months"})
timeline("insured_wage_ceilings.csv", load("insured_wage_ceilings.csv", "funds,multiple,of,valid_from,valid_to,source"),
         lambda d: d["funds"].split(";"),
         lambda d: is_int(d["multiple"]) and d["of"] in ("base_salary", "regional_min_wage")
         and set(d["funds"].split(";")) <= FUNDS, FUNDS)
timeline("interest_rate.csv", load("interest_rate.csv", "valid_from,valid_to,annual_percent,source"),
         lambda d: ["all"], lambda d: is_pct(d["annual_percent"]))

# retirement ages: birth-year ranges per sex tile from the first row on, last open
ret = load("retirement_age.csv", "sex,birth_year_from,birth_year_to,age_years,age_months,source")
by_sex = defaultdict(list)
for i, d in ret:
    if d["sex"] not in ("M", "F") or not all(is_int(d[k]) for k in ("birth_year_from", "age_years", "age_months")) \
            or (d["birth_year_to"] and not is_int(d["birth_year_to"])) or int(d["age_months"] or 0) > 11:
        err("retirement_age.csv", i, "bad row"); continue
    by_sex[d["sex"]].append((int(d["birth_year_from"]), int(d["birth_year_to"]) if d["birth_year_to"] else None, i))
for sex in ("M", "F"):
    ps = sorted(by_sex[sex])
    for (f1, t1, i1), (f2, t2, i2) in zip(ps, ps[1:]):
        if t1 is None or t1 + 1 != f2:
            err("retirement_age.csv", i2, f"{sex}: overlap or gap after line {i1}")
    if not ps or ps[-1][1] is not None:
        err("retirement_age.csv", 0, f"{sex}: missing or closed last range")

files = sorted(p.name for p in DIR.glob("*.csv"))
for e in errors:
    print("ERROR", e)
print(f"{len(files)} files checked: {', '.join(files)}")
print("FAILED" if errors else "OK: all reference tables consistent")
sys.exit(1 if errors else 0)
