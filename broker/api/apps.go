package api

import "github.com/gin-gonic/gin"

func registerApps(r gin.IRouter, d Deps) {}
