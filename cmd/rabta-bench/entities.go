package main

import "fmt"

// The entities of one benchmark station, as POSTed to /v1.1/Things (deep insert).

type point struct {
	Type        string     `json:"type"`
	Coordinates [2]float64 `json:"coordinates"`
}

type location struct {
	Name         string `json:"name"`
	Description  string `json:"description"`
	EncodingType string `json:"encodingType"`
	Location     point  `json:"location"`
}

type unit struct {
	Name       string `json:"name"`
	Symbol     string `json:"symbol"`
	Definition string `json:"definition"`
}

type sensor struct {
	Name         string `json:"name"`
	Description  string `json:"description"`
	EncodingType string `json:"encodingType"`
	Metadata     string `json:"metadata"`
}

type observedProperty struct {
	Name        string `json:"name"`
	Definition  string `json:"definition"`
	Description string `json:"description"`
}

type datastream struct {
	Name              string           `json:"name"`
	Description       string           `json:"description"`
	ObservationType   string           `json:"observationType"`
	UnitOfMeasurement unit             `json:"unitOfMeasurement"`
	Sensor            sensor           `json:"Sensor"`
	ObservedProperty  observedProperty `json:"ObservedProperty"`
}

type thing struct {
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Locations   []location   `json:"Locations"`
	Datastreams []datastream `json:"Datastreams"`
}

// streamName is the name of datastream i (0-based); the API phase maps names to ids.
func streamName(i int) string { return fmt.Sprintf("Water level at bench gauge %04d", i+1) }

func streamThing(i int) thing {
	return thing{
		Name:        fmt.Sprintf("Bench gauge %04d", i+1),
		Description: "synthetic river gauge (rabta-bench)",
		Locations: []location{{
			Name: fmt.Sprintf("Bench gauge %04d site", i+1), Description: "gauge site", EncodingType: "application/geo+json",
			Location: point{Type: "Point", Coordinates: [2]float64{70 + float64(i%50)*0.1, 30 + float64(i/50)*0.1}},
		}},
		Datastreams: []datastream{{
			Name: streamName(i), Description: "hourly water level",
			ObservationType:   "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
			UnitOfMeasurement: unit{Name: "metre", Symbol: "m", Definition: "http://qudt.org/vocab/unit/M"},
			Sensor:            sensor{Name: "Radar level sensor", Description: "radar", EncodingType: "text/html", Metadata: "https://example.org/sensor"},
			ObservedProperty:  observedProperty{Name: "Water level", Definition: "http://vocabs.lter-europe.net/EnvThes/22035", Description: "river water level above gauge datum"},
		}},
	}
}
