// Package advisory holds the science of Rabta's sector advisories: the quantities that heat,
// air-quality and agromet advisories are decided on, and the crop calendar that says when an
// agromet advisory applies. It is pure (standard library only): no I/O, no clock.
//
//   - HeatIndexF / HeatIndexC: the NWS heat index (Rothfusz regression with its two
//     adjustments, and Steadman's simple formula below 80 °F), per NWS/WPC "The Heat Index
//     Equation", https://www.wpc.ncep.noaa.gov/html/heatindex_equation.shtml. HeatBands are
//     the NWS classes (Caution, Extreme Caution, Danger, Extreme Danger) in °C.
//   - RelativeHumidity: relative humidity from air temperature and dew point with the Magnus
//     formula (Alduchov and Eskridge 1996 coefficients), for stations that report a dew point.
//   - AQI: the US EPA Air Quality Index for PM2.5 with the breakpoints of the 2024 revision
//     (40 CFR Part 58 Appendix G, Table 2, as amended by 89 FR 16202, 6 March 2024).
//   - IAQI: China's individual air quality index for PM2.5 (HJ 633-2012, Technical
//     Regulation on Ambient Air Quality Index, Table 1, 24-hour mean).
//   - Calendar: crop stages (sowing, flowering, harvest) of wheat, cotton and rice in Punjab,
//     Pakistan, by month, for agromet advisories.
//
// The rule package turns these into rules (rule.Expand); docs/advisories.md has the whole.
package advisory
