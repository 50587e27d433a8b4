package postgres

import "github.com/rabta/rabta/internal/store/sqlq"

// Schema maps the SensorThings data model onto this store's tables: the same for both stores.
var Schema = sqlq.Sensing
