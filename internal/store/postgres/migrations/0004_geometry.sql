-- rabta_geom turns GeoJSON text (a geometry, or a Feature whose geometry is taken) into a
-- PostGIS geometry (SRID 4326), or NULL when it is not valid GeoJSON or not a valid geometry,
-- so that one bad row never fails a $filter (the SQLite store's functions behave the same).
-- sqlq.Postgres compiles geometry properties to rabta_geom(column). Needs PostGIS.
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE FUNCTION rabta_geom(doc text) RETURNS geometry
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  j jsonb;
  g geometry;
BEGIN
  IF doc IS NULL THEN
    RETURN NULL;
  END IF;
  BEGIN
    j := doc::jsonb;
    IF jsonb_typeof(j) <> 'object' THEN
      RETURN NULL;
    END IF;
    IF j->>'type' = 'Feature' THEN
      j := j->'geometry';
      IF j IS NULL OR jsonb_typeof(j) <> 'object' THEN
        RETURN NULL;
      END IF;
    END IF;
    g := ST_SetSRID(ST_GeomFromGeoJSON(j), 4326);
    IF ST_IsEmpty(g) OR NOT ST_IsValid(g) THEN
      RETURN NULL;
    END IF;
    RETURN g;
  EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
  END;
END
$$;
