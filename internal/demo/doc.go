// Package demo holds the real data that `rabta serve --demo` seeds and
// replays, and the replay clock that makes old data look live.
//
// # Data
//
// Everything is embedded from internal/demo/data (see data/PROVENANCE.md for
// sources, licences and exactly what was trimmed); nothing is read from disk
// at run time. [Load] parses it into a [Dataset] of stations and series:
//
//   - 18 PDMA Punjab river gauges, barrages and headworks (Indus, Jhelum,
//     Chenab, Ravi, Sutlej) with real discharge from the 2025 monsoon floods
//     and the start of the 2026 monsoon. Discharge stays in the unit PDMA
//     reports, cusecs (ft³/s, UCUM "[cft_i]/s"), so the flood classes in
//     Series.Properties["floodClasses"] (low, medium, veryHigh, exceptional;
//     the "high" class was lost upstream and is not invented) apply directly.
//   - 25 PMD synoptic stations with monthly climate (mean, mean daily maximum
//     and minimum temperature, rain total), Aug 2020 to Jul 2021, with the PMD
//     normal of each month in Series.Properties["normals"].
//   - 4 Beijing air-quality stations: the US Embassy PM2.5 monitor (2014) and
//     the Aotizhongxin, Changping and Huairou stations of the UCI multi-site
//     set (Mar 2016 to Feb 2017: PM2.5, PM10, NO2, O3, temperature, dew point,
//     and relative humidity derived from the last two with the Magnus formula). [Advisories]
//     are the sector advisories (air quality, heat) the demo runs on them.
//
// Station coordinates come from data/*_coordinates.csv; every station says
// whether its position is approximate (a town centre, not the instrument)
// and where it comes from (Station.Approx, Station.Source).
//
// Observation times are instants: the gauges carry the PDMA report time
// (+05:00), the hourly Beijing values their hour in Beijing time (+08:00),
// and each monthly PMD value the first day of its month at 00:00 PKT
// (+05:00); the value summarises the whole month (Series.Properties["period"]
// is "P1M"). Values missing in the source are left out, not zero-filled.
//
// # Replay
//
// A [Replay] maps each series onto the wall clock. Every series has a split
// instant (Series.Split), chosen per family so that something interesting
// happens soon after start:
//
//	shifted(t) = now + (t − split) / speed
//
// Observations before the split, down to split − history in ORIGINAL time,
// are the backfill ([Replay.Backfill]): they map into the past, so a newcomer
// sees a populated history at once. Observations at or after the split are
// emitted by [Replay.Run] when the clock reaches their shifted time, in time
// order, in one batch per series and instant. Shifted times are UTC.
//
// At [DefaultSpeed] (four hours of data per second) the Chenab flood peak at
// Khanki (1,001,480 cusecs, 27 Aug 2025 13:00 PKT) arrives about 100 seconds
// after start; see [GaugeSplit], [ClimateSplit], [AirSplit], [EmbassySplit].
package demo
